"""The repository serializer: the JSON of GET/POST /api/v1/repositories/ and its validation rules.

Rules (CONTRACT.md): a local repository takes no upstream and no members; a remote one needs an
http(s) upstream_url; a virtual one lists existing members of its own format (never itself, no
cycles) and may name one local member as deploy_to. name, format and kind are fixed once created.
upstream_password is write-only: it is stored encrypted and only `upstream_password_set` shows it.
The format's settings block (key = the format) is checked by format_settings and, on PATCH, merged
into the stored one key by key.
"""
from __future__ import annotations

from urllib.parse import urlparse

from django.db import transaction
from rest_framework import exceptions, serializers

from formats.base import base_url, repository_url
from repositories import hotcache
from repositories.models import Repository, VirtualMember
from repositories.names import InvalidName, check_repository_name
from repositories.permissions import can

from .format_settings import validate_format_settings

FORMATS = [f for f, _ in Repository.FORMATS]
UPSTREAM_FIELDS = ("upstream_url", "upstream_username", "upstream_password")


class MemberNamesField(serializers.ListField):
    child = serializers.CharField()

    def get_attribute(self, instance):
        # members.all() uses the prefetch of the list view; VirtualMember is ordered by position.
        return [vm.member.name for vm in instance.members.all()]


class DeployToField(serializers.CharField):
    def get_attribute(self, instance):
        return instance.deploy_to.name if instance.deploy_to_id else None


class RepositorySerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=64)
    format = serializers.ChoiceField(choices=FORMATS)
    kind = serializers.ChoiceField(choices=[k for k, _ in Repository.KINDS])
    url = serializers.SerializerMethodField(help_text="what clients configure to use this repository")
    upstream_url = serializers.CharField(max_length=1024, required=False, allow_blank=True)
    upstream_password = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=1024,
                                              trim_whitespace=False, style={"input_type": "password"})
    upstream_password_set = serializers.SerializerMethodField()
    members = MemberNamesField(required=False, help_text="virtual only: member repository names, in order")
    deploy_to = DeployToField(required=False, allow_null=True, allow_blank=True,
                              help_text="virtual only: the local member publishes go to")
    docker = serializers.DictField(required=False, help_text="docker settings: {immutable_tags: bool}")
    npm = serializers.DictField(required=False)
    maven = serializers.DictField(required=False, help_text="maven settings: {version_policy, allow_redeploy}")
    pypi = serializers.DictField(required=False)

    class Meta:
        model = Repository
        fields = [
            "name", "format", "kind", "url", "description", "anonymous_read",
            "upstream_url", "upstream_username", "upstream_password", "upstream_password_set",
            "metadata_ttl", "negative_cache_ttl", "stale_while_revalidate",
            "members", "deploy_to", *FORMATS, "created",
        ]
        read_only_fields = ["created"]
        # PositiveIntegerField is a 32-bit integer in PostgreSQL: keep larger values a 400, not a 500.
        extra_kwargs = {"metadata_ttl": {"max_value": 2**31 - 1}, "negative_cache_ttl": {"max_value": 2**31 - 1}}

    def get_url(self, repo) -> str:
        request = self.context.get("request")
        if request is None:
            return ""
        django_request = getattr(request, "_request", request)
        if repo.format == "docker":
            # docker pull HOST:PORT/REPO/IMAGE:TAG: the image prefix, not an HTTP URL.
            return f"{base_url(django_request).split('://', 1)[-1].rstrip('/')}/{repo.name}"
        return repository_url(django_request, repo)

    def get_upstream_password_set(self, repo) -> bool:
        return bool(repo.upstream_password_encrypted)

    def to_representation(self, repo):
        data = super().to_representation(repo)
        data[repo.format] = repo.format_settings()
        return data

    def to_internal_value(self, data):
        if isinstance(data, dict):
            # A typo such as "upstream_ur" must not silently create a different repository.
            unknown = sorted(k for k in data if k not in self.fields)
            if unknown:
                raise exceptions.ValidationError({k: ["unknown field"] for k in unknown})
            data = {k: v for k, v in data.items() if not self.fields[k].read_only}
        return super().to_internal_value(data)

    def validate_name(self, value):
        try:
            return check_repository_name(value)
        except InvalidName as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_upstream_url(self, value):
        if value:
            parsed = urlparse(value)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise serializers.ValidationError("upstream_url must be an http:// or https:// URL")
        return value

    def validate(self, attrs):
        repo = self.instance
        for key in ("name", "format", "kind"):
            if repo is not None and key in attrs and attrs[key] != getattr(repo, key):
                raise exceptions.ValidationError({key: [f"{key} cannot be changed"]})
        fmt = attrs.get("format", repo.format if repo else None)
        kind = attrs.get("kind", repo.kind if repo else None)
        self._validate_format_settings(attrs, repo, fmt, kind)
        self._validate_upstream(attrs, repo, kind)
        self._validate_virtual(attrs, repo, fmt, kind)
        return attrs

    def _validate_format_settings(self, attrs, repo, fmt, kind):
        for key in FORMATS:
            if key in attrs and key != fmt:
                raise exceptions.ValidationError({key: [f"{key} settings apply only to {key} repositories"]})
        block = attrs.pop(fmt, None)
        if repo is not None and block is None:
            return
        merged = {**(repo.format_settings() if repo else {}), **(block or {})}
        try:
            normalised = validate_format_settings(fmt, kind, merged)
        except ValueError as exc:
            raise exceptions.ValidationError({fmt: [str(exc)]}) from None
        attrs["settings"] = {**((repo.settings or {}) if repo else {}), fmt: normalised}

    def _validate_upstream(self, attrs, repo, kind):
        if kind == "remote":
            url = attrs.get("upstream_url", repo.upstream_url if repo else "")
            if not url:
                raise exceptions.ValidationError({"upstream_url": ["a remote repository needs an upstream_url"]})
            return
        given = [f for f in UPSTREAM_FIELDS if attrs.get(f)]
        if given:
            raise exceptions.ValidationError({f: ["only remote repositories have an upstream"] for f in given})

    def _validate_virtual(self, attrs, repo, fmt, kind):
        names = attrs.pop("members", None)
        deploy_to = attrs.pop("deploy_to", None) if "deploy_to" in attrs else ...
        if kind != "virtual":
            if names:
                raise exceptions.ValidationError({"members": ["only virtual repositories have members"]})
            if deploy_to not in (None, "", ...):
                raise exceptions.ValidationError({"deploy_to": ["only virtual repositories have deploy_to"]})
            return
        current = repo.member_list() if repo else []
        members = current if names is None else self._resolve_members(names, repo, attrs.get("name"), fmt, current)
        if names is not None:
            attrs["_members"] = members
        if deploy_to is ...:
            # Unchanged deploy_to must still be a member after the members change.
            target = repo.deploy_to if repo else None
            if target is not None and target.pk not in {m.pk for m in members}:
                raise exceptions.ValidationError({"deploy_to": [f"{target.name} is no longer a member; set deploy_to too"]})
            return
        if not deploy_to:
            attrs["deploy_to"] = None
            return
        target = next((m for m in members if m.name == deploy_to), None)
        if target is None:
            raise exceptions.ValidationError({"deploy_to": [f"{deploy_to} is not a member of this repository"]})
        if target.kind != "local":
            raise exceptions.ValidationError({"deploy_to": [f"{deploy_to} is {target.kind}; deploy_to must be a local repository"]})
        if repo is None or repo.deploy_to_id != target.pk:
            self._require_manage(target, "deploy_to")
        attrs["deploy_to"] = target

    def _resolve_members(self, names, repo, new_name, fmt, current):
        if len(set(names)) != len(names):
            raise exceptions.ValidationError({"members": ["a repository can be a member only once"]})
        own_name = repo.name if repo else new_name
        found = {r.name: r for r in Repository.objects.filter(name__in=names)}
        user = self._user()
        # Members the caller may not read are reported as missing, like everywhere in the API.
        missing = [n for n in names if n not in found or not can(user, "read", found[n])]
        if missing:
            raise exceptions.ValidationError({"members": [f"no such repository: {', '.join(missing)}"]})
        errors = []
        for name in names:
            member = found[name]
            if name == own_name:
                errors.append("a virtual repository cannot be its own member")
            elif member.format != fmt:
                errors.append(f"{name} is a {member.format} repository, not {fmt}")
            elif repo is not None and member.kind == "virtual" and _reaches(member, repo.pk):
                errors.append(f"{name} contains this repository: members cannot form a cycle")
        if errors:
            raise exceptions.ValidationError({"members": errors})
        current_pks = {m.pk for m in current}
        for name in names:
            if found[name].pk not in current_pks:
                self._require_manage(found[name], "members")
        return [found[n] for n in names]

    def _user(self):
        request = self.context.get("request")
        return request.user if request is not None else None

    def _require_manage(self, member, field):
        # Adding a member exposes its content to the virtual's readers (and deployers, for
        # deploy_to), which amounts to granting on it: only its managers may do that.
        if not can(self._user(), "manage", member):
            raise exceptions.PermissionDenied(f"{field}: adding {member.name} needs the manage role on it")

    def create(self, validated):
        members = validated.pop("_members", [])
        password = validated.pop("upstream_password", "")
        with transaction.atomic():
            repo = Repository(**validated)
            repo.upstream_password = password
            repo.save()
            _set_members(repo, members)
        return repo

    def update(self, repo, validated):
        members = validated.pop("_members", None)
        password = validated.pop("upstream_password", None)
        with transaction.atomic():
            for key, value in validated.items():
                setattr(repo, key, value)
            if password is not None:
                repo.upstream_password = password
            repo.save()
            if members is not None:
                _set_members(repo, members)
        return Repository.objects.select_related("deploy_to").get(pk=repo.pk)


def _set_members(repo: Repository, members: list[Repository]) -> None:
    VirtualMember.objects.filter(virtual=repo).delete()
    VirtualMember.objects.bulk_create([VirtualMember(virtual=repo, member=m, position=i) for i, m in enumerate(members)])
    hotcache.bump()  # bulk_create sends no post_save


def _reaches(virtual: Repository, target_pk: int) -> bool:
    """Does `virtual` contain the repository `target_pk`, directly or through nested virtuals?"""
    seen, stack = set(), [virtual]
    while stack:
        repo = stack.pop()
        if repo.pk == target_pk:
            return True
        if repo.pk in seen:
            continue
        seen.add(repo.pk)
        stack.extend(m for m in repo.member_list() if m.kind == "virtual" or m.pk == target_pk)
    return False
