from django.urls import path

from . import views

urlpatterns = [
    path("repository/<str:name>/", views.dispatch, {"path": ""}),
    path("repository/<str:name>", views.dispatch, {"path": ""}),
    path("repository/<str:name>/<path:path>", views.dispatch),
]
