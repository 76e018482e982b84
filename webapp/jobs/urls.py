from django.urls import path

from . import views

app_name = "jobs"
urlpatterns = [
    path("api/jobs/<uuid:job_id>", views.job_detail_api, name="api-detail"),
    path("api/diagnostics", views.diagnostic_api, name="api-diagnostic"),
    path("history/", views.history, name="history"),
]
