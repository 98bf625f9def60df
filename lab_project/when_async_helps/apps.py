from django.apps import AppConfig


class WhenAsyncHelpsConfig(AppConfig):
    name = "lab_project.when_async_helps"
    label = "lab_when_async_helps"
