"""Repository endpoints: GET, POST /api/v1/repositories/ and GET, PATCH, DELETE /api/v1/repositories/NAME/.

Anyone may list: the list holds only the repositories the caller may read (anonymous callers see
those with anonymous_read). Only administrators create repositories; PATCH and DELETE need the
`manage` role. Lookups follow access.repository_for (404 for what the caller may not read).
Deleting a repository cascades to its assets; their blobs are garbage collected later.
"""
from __future__ import annotations

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, permissions, status
from rest_framework.response import Response

from repositories.models import Repository
from repositories.permissions import readable

from . import access
from .negotiation import AcceptHeaderOnly
from .errors import Conflict
from .serializers import RepositorySerializer


def _with_relations(queryset):
    return queryset.select_related("deploy_to").prefetch_related("members__member")


class RepositoryList(generics.ListCreateAPIView):
    content_negotiation_class = AcceptHeaderOnly  # ?format= filters by package format
    serializer_class = RepositorySerializer
    permission_classes = [permissions.AllowAny]  # reading is filtered by permissions.readable

    def get_queryset(self):
        qs = readable(self.request.user, Repository.objects.all(), token=access.token_of(self.request))
        for key in ("format", "kind"):
            if self.request.query_params.get(key):
                qs = qs.filter(**{key: self.request.query_params[key]})
        return _with_relations(qs).order_by("name")

    @extend_schema(parameters=[
        OpenApiParameter("format", str, enum=[f for f, _ in Repository.FORMATS]),
        OpenApiParameter("kind", str, enum=[k for k, _ in Repository.KINDS]),
    ])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def create(self, request, *args, **kwargs):
        access.require_superuser(request, audit_action="repository.create")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        name = serializer.validated_data["name"]
        if Repository.objects.filter(name=name).exists():
            raise Conflict(f"repository {name!r} already exists")
        try:
            with transaction.atomic():
                repo = serializer.save()
        except IntegrityError:
            # Two concurrent creates of one name: the loser ends here.
            raise Conflict(f"repository {name!r} already exists") from None
        access.record(request, "repository.create", repository=repo, format=repo.format, kind=repo.kind)
        return Response(self.get_serializer(repo).data, status=status.HTTP_201_CREATED)


class RepositoryDetail(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = RepositorySerializer
    permission_classes = [permissions.AllowAny]  # checked per method in get_object
    http_method_names = ["get", "patch", "delete", "head", "options"]
    lookup_field = "name"
    queryset = Repository.objects.all()

    def get_object(self):
        method = self.request.method
        action = "read" if method in ("GET", "HEAD", "OPTIONS") else "manage"
        audit_action = {"PATCH": "repository.update", "DELETE": "repository.delete"}.get(method)
        return access.repository_for(self.request, self.kwargs["name"], action, audit_action=audit_action)

    def perform_update(self, serializer):
        repo = serializer.save()
        # Only the field names: a value such as upstream_password must never reach the log.
        access.record(self.request, "repository.update", repository=repo, fields=sorted(serializer.initial_data))

    def perform_destroy(self, repo):
        name = repo.name
        repo.delete()
        access.record(self.request, "repository.delete", repository=name)
