from django.apps import AppConfig


class StreamingSseConfig(AppConfig):
    name = "lab_project.streaming_sse"
    label = "lab_streaming_sse"
