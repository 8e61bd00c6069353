"""Top-level URL map: client protocols, the REST API, health checks, the console."""
from django.urls import include, path

from repositories import health

urlpatterns = [
    path("v2/", include("formats.docker.urls")),  # Docker/OCI: before the catch-alls, no slash redirects
    path("", include("formats.urls")),
    path("api/v1/", include("repositories.api.urls")),
    path("health/live", health.live),
    path("health/ready", health.ready),
    path("", include("frontend.urls")),
]

handler404 = "formats.views.not_found"
