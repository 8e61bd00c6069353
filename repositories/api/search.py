"""GET /api/v1/search/?q=&format= (packages the caller may read) and GET /api/v1/audit/ (administrators).

Search looks at the Asset index of the repositories permissions.readable gives the caller (anonymous
callers: those with anonymous_read); `q` is a case-insensitive substring of the package name. One
result is one package in one repository, with its versions newest upload first. Virtual
repositories hold no assets of their own, so results name the repository actually holding them;
packages reachable only through a virtual the caller may read are not listed.
"""
from __future__ import annotations

from functools import reduce
from operator import or_

from django.db.models import Max, Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, serializers

from repositories.models import Asset, AuditEvent, Repository
from repositories.permissions import readable

from . import access
from .negotiation import AcceptHeaderOnly

VERSIONS_SHOWN = 10


class SearchResultSerializer(serializers.Serializer):
    name = serializers.CharField()
    repository = serializers.CharField()
    format = serializers.CharField()
    latest_version = serializers.CharField(help_text="the most recently uploaded version")
    versions = serializers.ListField(child=serializers.CharField(), help_text=f"up to {VERSIONS_SHOWN}, newest first")
    updated = serializers.DateTimeField()


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "at", "actor", "address", "action", "repository", "path", "outcome", "detail"]


class Search(generics.GenericAPIView):
    content_negotiation_class = AcceptHeaderOnly  # ?format= filters by package format
    serializer_class = SearchResultSerializer
    permission_classes = [permissions.AllowAny]  # results are filtered by permissions.readable

    @extend_schema(parameters=[
        OpenApiParameter("q", str, description="case-insensitive substring of the package name"),
        OpenApiParameter("format", str, enum=[f for f, _ in Repository.FORMATS]),
    ])
    def get(self, request):
        repos = readable(request.user, Repository.objects.exclude(kind="virtual"), token=access.token_of(request))
        assets = Asset.objects.filter(repository__in=repos.values("pk")).exclude(package="")
        if request.query_params.get("q"):
            assets = assets.filter(package__icontains=request.query_params["q"])
        if request.query_params.get("format"):
            assets = assets.filter(repository__format=request.query_params["format"])
        groups = (assets.values("repository_id", "repository__name", "repository__format", "package")
                  .annotate(updated=Max("created")).order_by("package", "repository__name"))
        page = self.paginate_queryset(groups)
        versions = _versions(page)
        results = [{
            "name": g["package"], "repository": g["repository__name"], "format": g["repository__format"],
            "latest_version": (versions.get((g["repository_id"], g["package"])) or [""])[0],
            "versions": versions.get((g["repository_id"], g["package"]), []),
            "updated": g["updated"],
        } for g in page]
        return self.get_paginated_response(self.get_serializer(results, many=True).data)


def _versions(groups) -> dict[tuple[int, str], list[str]]:
    """(repository id, package) -> its versions, most recent upload first, for one page of results."""
    if not groups:
        return {}
    cond = reduce(or_, (Q(repository_id=g["repository_id"], package=g["package"]) for g in groups))
    rows = (Asset.objects.filter(cond).values("repository_id", "package", "version")
            .annotate(latest=Max("created")).order_by("-latest", "-version"))
    out: dict[tuple[int, str], list[str]] = {}
    for row in rows:
        shown = out.setdefault((row["repository_id"], row["package"]), [])
        if len(shown) < VERSIONS_SHOWN and row["version"] not in shown:
            shown.append(row["version"])
    return out


class AuditList(generics.ListAPIView):
    """Audit events, newest first; administrators only."""

    serializer_class = AuditEventSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        qs = AuditEvent.objects.all()
        for key in ("repository", "actor", "action", "outcome"):
            if self.request.query_params.get(key):
                qs = qs.filter(**{key: self.request.query_params[key]})
        return qs.order_by("-at", "-id")

    @extend_schema(parameters=[OpenApiParameter(k, str) for k in ("repository", "actor", "action", "outcome")])
    def get(self, request, *args, **kwargs):
        access.require_superuser(request)
        return super().get(request, *args, **kwargs)
