from django.apps import AppConfig


class StartHereConfig(AppConfig):
    name = "lab_project.start_here"
    label = "lab_start_here"
