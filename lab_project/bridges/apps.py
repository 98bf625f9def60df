from django.apps import AppConfig


class BridgesConfig(AppConfig):
    name = "lab_project.bridges"
    label = "lab_bridges"
