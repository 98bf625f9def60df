from django.urls import path

from lab_project.middleware import views

app_name = "middleware"
urlpatterns = [
    path("ping/", views.ping, name="ping"),
    path("trace/", views.trace, name="trace"),
]
