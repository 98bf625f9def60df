from django.apps import AppConfig


class AsyncOrmConfig(AppConfig):
    name = "lab_project.async_orm"
    label = "lab_async_orm"

    def ready(self) -> None:
        from lab_project.async_orm import query_threads

        query_threads.install()
