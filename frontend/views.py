"""Landing page: what this Packyard serves and where the API lives."""
from django.shortcuts import render

from packyard import __version__
from repositories.permissions import readable


def index(request):
    repositories = readable(request.user) if request.user.is_authenticated else readable(None)
    return render(request, "frontend/index.html", {"repositories": repositories, "version": __version__})
