from django.urls import path

from lab_project.streaming_sse import views

app_name = "streaming_sse"
urlpatterns = [
    path("text/", views.text, name="text"),
    path("events/", views.events, name="events"),
    path("tokens/", views.tokens, name="tokens"),
    path("registry/", views.registry, name="registry"),
    path("registry/<int:stream_id>/", views.stream_record, name="stream-record"),
]
