"""/v2/...: every path goes to the Docker router (names contain slashes; no slash redirects)."""
from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^(?P<rest>.*)$", views.dispatch),
]
