from django.apps import AppConfig


class CaptionsConfig(AppConfig):
    name = "webapp.captions"
    verbose_name = "Captions"
