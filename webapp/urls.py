from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("webapp.core.urls")),
    path("", include("webapp.jobs.urls")),
    path("", include("webapp.nextword.urls")),
    path("", include("webapp.captions.urls")),
    path("", include("webapp.lab.urls")),
    path("", include("webapp.translate.urls")),
    path("", include("webapp.forecast.urls")),
]

# Friendly pages for people, JSON for /api/ (webapp/core/errors.py); used whenever DEBUG is off.
handler400 = "webapp.core.errors.bad_request"
handler403 = "webapp.core.errors.permission_denied"
handler404 = "webapp.core.errors.page_not_found"
handler500 = "webapp.core.errors.server_error"
