from django.apps import AppConfig


class TestingAsyncConfig(AppConfig):
    name = "lab_project.testing_async"
    label = "lab_testing_async"
