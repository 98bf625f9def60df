from django.urls import path

from lab_project.http_clients import views

app_name = "http_clients"
urlpatterns = [
    path("fetch/", views.fetch, name="fetch"),
    path("sequential/", views.sequential, name="sequential"),
    path("gather/", views.gather, name="gather"),
    path("taskgroup/", views.taskgroup, name="taskgroup"),
]
