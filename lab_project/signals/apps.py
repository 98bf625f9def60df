from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "lab_project.signals"
    label = "lab_signals"
