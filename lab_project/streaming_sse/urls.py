from django.urls import path  # noqa: F401

app_name = "streaming_sse"
urlpatterns: list = []
