from django.apps import AppConfig


class SignalsConfig(AppConfig):
    name = "lab_project.signals"
    label = "lab_signals"

    def ready(self) -> None:
        from lab_project.signals import receivers  # noqa: F401  (connects the receivers)
