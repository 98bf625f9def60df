from django.urls import path

from lab_project.async_views import views

app_name = "async_views"
urlpatterns = [
    path("pause/", views.pause, name="pause"),
    path("sum/", views.Sum.as_view(), name="sum"),
]
