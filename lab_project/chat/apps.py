from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "lab_project.chat"
    label = "lab_chat"
