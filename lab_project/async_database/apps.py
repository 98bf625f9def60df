from django.apps import AppConfig


class AsyncDatabaseConfig(AppConfig):
    name = "lab_project.async_database"
    label = "lab_async_database"
