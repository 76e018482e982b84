from django.urls import path

from . import views

app_name = "translate"
urlpatterns = [
    path("translate/", views.page, name="page"),
    path("translate/<uuid:job_id>", views.result, name="result"),
    path("api/translate", views.translate_api, name="api"),
    path("api/captions/<uuid:job_id>/translations", views.caption_translation_api, name="api-caption"),
]
