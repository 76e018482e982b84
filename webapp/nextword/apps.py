from django.apps import AppConfig


class NextwordConfig(AppConfig):
    name = "webapp.nextword"
    verbose_name = "Next word"
