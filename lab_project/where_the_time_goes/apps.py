from django.apps import AppConfig


class WhereTheTimeGoesConfig(AppConfig):
    name = "lab_project.where_the_time_goes"
    label = "lab_where_the_time_goes"
