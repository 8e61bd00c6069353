"""URL map of /api/v1/users/, /teams/, /tokens/ (views in accounts.api)."""
from django.urls import path

from . import api

urlpatterns = [
    path("users/", api.UserList.as_view(), name="user-list"),
    # Before the <username> route; "me" is a reserved username so it never shadows anyone.
    path("users/me/", api.UserMe.as_view(), name="user-me"),
    path("users/<str:username>/", api.UserDetail.as_view(), name="user-detail"),
    path("teams/", api.TeamList.as_view(), name="team-list"),
    path("teams/<str:name>/", api.TeamDetail.as_view(), name="team-detail"),
    path("tokens/", api.TokenList.as_view(), name="token-list"),
    path("tokens/<int:pk>/", api.TokenDetail.as_view(), name="token-detail"),
]
