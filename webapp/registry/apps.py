from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "webapp.registry"
    verbose_name = "Model registry"

    def ready(self):
        from . import loader  # noqa: F401  (preloads active models in each worker process)
