from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "webapp.jobs"
    verbose_name = "Jobs"

    def ready(self):
        from . import worker  # noqa: F401  (connects the Celery worker signals)
