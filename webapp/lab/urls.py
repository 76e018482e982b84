from django.urls import path

from . import views

app_name = "lab"
urlpatterns = [
    path("lab/", views.page, name="page"),
    path("lab/<uuid:job_id>", views.result, name="result"),
    path("api/lab/experiments", views.experiments_api, name="api-create"),
]
