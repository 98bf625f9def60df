from django.apps import AppConfig


class CacheConfig(AppConfig):
    name = "lab_project.cache"
    label = "lab_cache"
