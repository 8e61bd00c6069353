"""What a repository holds, and removing or yanking one version of a package.

GET    /api/v1/repositories/NAME/packages/                       read
DELETE /api/v1/repositories/NAME/packages/PKG/VERSION/           delete
POST   /api/v1/repositories/NAME/packages/PKG/VERSION/yank/      deploy, body {reason?, yanked?}

The format plugin does the work (FormatPlugin.packages / delete_version / yank); a format
without a plugin yet gets the base class's Asset-index behaviour. For a virtual repository the
listing joins its members' packages (each entry names the member holding it) and the writes go
to its deploy_to member, while the role is checked on the virtual itself (CONTRACT.md).
Package names are passed on as the URL has them: the plugin normalises them its own way.
"""
from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, generics, permissions, serializers
from rest_framework.response import Response

from formats import registry
from formats.base import FormatPlugin
from repositories.models import Repository
from repositories.resolve import deploy_target, members

from . import access


class FileSerializer(serializers.Serializer):
    path = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    created = serializers.DateTimeField()
    uploaded_by = serializers.CharField()


class VersionSerializer(serializers.Serializer):
    version = serializers.CharField()
    files = FileSerializer(many=True)


class PackageSerializer(serializers.Serializer):
    """Documents the shape; the plugin's dicts are returned as they are (a plugin may add keys)."""

    name = serializers.CharField()
    repository = serializers.CharField(help_text="the repository holding it (a member, for a virtual)")
    versions = VersionSerializer(many=True)


class YankSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    yanked = serializers.BooleanField(required=False, default=True)


def plugin_for(fmt: str) -> FormatPlugin:
    plugin = registry.get(fmt)
    if plugin is None:
        plugin = FormatPlugin()
        plugin.name = fmt
    return plugin


def _write_target(repo: Repository) -> Repository:
    if repo.kind == "remote":
        return repo  # deleting from a remote purges its cache; the next read fetches again
    target = deploy_target(repo)
    if target is None:
        raise exceptions.ValidationError(f"virtual repository {repo.name} has no deploy_to member to act on")
    return target


class PackageList(generics.GenericAPIView):
    serializer_class = PackageSerializer
    permission_classes = [permissions.AllowAny]  # access.repository_for checks `read`

    def get(self, request, name):
        repo = access.repository_for(request, name, "read")
        plugin = plugin_for(repo.format)
        entries = []
        for holder in members(repo):
            for entry in plugin.packages(holder):
                entries.append({**entry, "repository": entry.get("repository", holder.name)})
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(page) if page is not None else Response(entries)


class VersionDetail(generics.GenericAPIView):
    serializer_class = None
    permission_classes = [permissions.AllowAny]  # access.repository_for checks `delete`

    @extend_schema(responses={204: None})
    def delete(self, request, name, package, version):
        repo = access.repository_for(request, name, "delete", audit_action="package.delete")
        target = _write_target(repo)
        removed = plugin_for(target.format).delete_version(target, package, version)
        if not removed:
            raise exceptions.NotFound(f"{package} {version} not found in {target.name}")
        access.record(request, "package.delete", repository=target, path=f"{package}/{version}",
                      package=package, version=version, files=removed, via=repo.name if target != repo else "")
        return Response(status=204)


class VersionYank(generics.GenericAPIView):
    serializer_class = YankSerializer
    permission_classes = [permissions.AllowAny]  # access.repository_for checks `deploy`

    @extend_schema(responses=inline_serializer("YankResult", {
        "package": serializers.CharField(), "version": serializers.CharField(),
        "yanked": serializers.BooleanField(), "files": serializers.IntegerField(),
    }))
    def post(self, request, name, package, version):
        repo = access.repository_for(request, name, "deploy", audit_action="package.yank")
        body = self.get_serializer(data=request.data)
        body.is_valid(raise_exception=True)
        yanked, reason = body.validated_data["yanked"], body.validated_data["reason"]
        target = _write_target(repo)
        try:
            changed = plugin_for(target.format).yank(target, package, version, reason=reason, yanked=yanked)
        except ValueError as exc:
            raise exceptions.ValidationError(str(exc)) from None
        if not changed:
            raise exceptions.NotFound(f"{package} {version} not found in {target.name}")
        access.record(request, "package.yank" if yanked else "package.unyank", repository=target,
                      path=f"{package}/{version}", package=package, version=version, reason=reason,
                      via=repo.name if target != repo else "")
        return Response({"package": package, "version": version, "yanked": yanked, "files": changed})
