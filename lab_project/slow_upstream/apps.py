from django.apps import AppConfig


class SlowUpstreamConfig(AppConfig):
    name = "lab_project.slow_upstream"
    label = "lab_slow_upstream"
