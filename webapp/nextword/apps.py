from django.apps import AppConfig


class NextwordConfig(AppConfig):
    name = "webapp.nextword"
    verbose_name = "Next word"

    def ready(self):
        from . import services  # noqa: F401  registers the kind's result-cache key in every process
