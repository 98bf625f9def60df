from django.urls import path

from lab_project.slow_upstream import views

app_name = "slow_upstream"
urlpatterns = [
    path("data/", views.data, name="data"),
]
