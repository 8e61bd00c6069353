"""URL map of /api/v1/. Repository routes live here; user, team and token routes in accounts.api_urls."""
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import grants, packages, schema, search, views  # noqa: F401  (schema registers an extension)

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("repositories/", views.RepositoryList.as_view(), name="repository-list"),
    path("repositories/<str:name>/", views.RepositoryDetail.as_view(), name="repository-detail"),
    path("repositories/<str:name>/permissions/", grants.GrantList.as_view(), name="grant-list"),
    path("repositories/<str:name>/permissions/<int:pk>/", grants.GrantDetail.as_view(), name="grant-detail"),
    path("repositories/<str:name>/packages/", packages.PackageList.as_view(), name="package-list"),
    # yank before the version route: package names may contain '/' (npm scopes), so <path:> is greedy.
    path("repositories/<str:name>/packages/<path:package>/<str:version>/yank/", packages.VersionYank.as_view(),
         name="package-version-yank"),
    path("repositories/<str:name>/packages/<path:package>/<str:version>/", packages.VersionDetail.as_view(),
         name="package-version"),
    path("search/", search.Search.as_view(), name="search"),
    path("audit/", search.AuditList.as_view(), name="audit"),
    path("", include("accounts.api_urls")),
]
