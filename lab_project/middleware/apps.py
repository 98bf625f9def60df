from django.apps import AppConfig


class MiddlewareConfig(AppConfig):
    name = "lab_project.middleware"
    label = "lab_middleware"
