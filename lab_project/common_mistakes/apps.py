from django.apps import AppConfig


class CommonMistakesConfig(AppConfig):
    name = "lab_project.common_mistakes"
    label = "lab_common_mistakes"
