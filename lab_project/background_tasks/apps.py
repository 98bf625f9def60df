from django.apps import AppConfig


class BackgroundTasksConfig(AppConfig):
    name = "lab_project.background_tasks"
    label = "lab_background_tasks"
