from django.apps import AppConfig


class TranslateConfig(AppConfig):
    name = "webapp.translate"
    verbose_name = "Translate"
