from django.urls import path

from . import views

app_name = "nextword"
urlpatterns = [
    path("next-word/", views.page, name="page"),
    path("next-word/<uuid:job_id>", views.result, name="result"),
    path("api/next-word", views.suggest_api, name="api-suggest"),
    path("api/next-word/sample", views.sample_api, name="api-sample"),
    path("api/next-word/inspect", views.inspect_api, name="api-inspect"),
]
