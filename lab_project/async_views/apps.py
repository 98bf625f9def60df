from django.apps import AppConfig


class AsyncViewsConfig(AppConfig):
    name = "lab_project.async_views"
    label = "lab_async_views"
