from django.urls import path

from . import views

app_name = "captions"
urlpatterns = [
    path("caption/", views.page, name="page"),
    path("caption/<uuid:job_id>", views.result, name="result"),
    path("caption/<uuid:job_id>/image.jpg", views.image, name="image"),
    path("api/captions", views.caption_api, name="api-create"),
]
