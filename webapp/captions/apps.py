from django.apps import AppConfig


class CaptionsConfig(AppConfig):
    name = "webapp.captions"
    verbose_name = "Captions"

    def ready(self):
        from . import services  # noqa: F401  registers the kind's result-cache key in every process
