from django.urls import path

from . import views

app_name = "forecast"
urlpatterns = [
    path("forecast/", views.page, name="page"),
    path("forecast/upload", views.upload, name="upload"),
    path("forecast/<uuid:job_id>", views.result, name="result"),
    path("api/forecast", views.forecast_api, name="api"),
]
