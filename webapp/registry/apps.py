from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "webapp.registry"
    verbose_name = "Model registry"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from . import loader  # noqa: F401  (preloads active models in each worker process)
        from .models import ModelVersion
        from .services import registry_changed

        post_save.connect(registry_changed, sender=ModelVersion, dispatch_uid="registry-changed-save")
        post_delete.connect(registry_changed, sender=ModelVersion, dispatch_uid="registry-changed-delete")
