from django.apps import AppConfig


class LabConfig(AppConfig):
    name = "webapp.lab"
    verbose_name = "Gradient lab"
