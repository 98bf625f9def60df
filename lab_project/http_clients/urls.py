from django.urls import path  # noqa: F401

app_name = "http_clients"
urlpatterns: list = []
