from django.urls import path

from lab_project.testing_async import views

app_name = "testing_async"
urlpatterns = [
    path("request-report/", views.request_report, name="request-report"),
]
