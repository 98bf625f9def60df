from django.urls import path

from lab_project.start_here import views

app_name = "start_here"
urlpatterns = [
    path("hello/", views.hello, name="hello"),
    path("greeting/", views.Greeting.as_view(), name="greeting"),
    path("clock/", views.clock, name="clock"),
    path("health/", views.health, name="health"),
]
