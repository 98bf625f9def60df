from django.apps import AppConfig


class AuthSessionsConfig(AppConfig):
    name = "lab_project.auth_sessions"
    label = "lab_auth_sessions"
