from django.apps import AppConfig


class HttpClientsConfig(AppConfig):
    name = "lab_project.http_clients"
    label = "lab_http_clients"
