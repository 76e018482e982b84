from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("webapp.core.urls")),
    path("", include("webapp.jobs.urls")),
    path("", include("webapp.nextword.urls")),
    path("", include("webapp.captions.urls")),
    path("", include("webapp.lab.urls")),
]
