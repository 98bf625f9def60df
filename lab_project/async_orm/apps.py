from django.apps import AppConfig


class AsyncOrmConfig(AppConfig):
    name = "lab_project.async_orm"
    label = "lab_async_orm"
