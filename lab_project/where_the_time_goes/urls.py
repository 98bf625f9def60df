from django.urls import path

from lab_project.where_the_time_goes import views

app_name = "where_the_time_goes"
urlpatterns = [
    path("trivial/async/", views.trivial_async, name="trivial-async"),
    path("trivial/sync/", views.trivial_sync, name="trivial-sync"),
    path("io/", views.io_wait, name="io"),
    path("thread/", views.which_thread, name="thread"),
]
