from django.apps import AppConfig


class ForecastConfig(AppConfig):
    name = "webapp.forecast"
    verbose_name = "Forecast"
