from django.urls import path  # noqa: F401

app_name = "when_async_helps"
urlpatterns: list = []
