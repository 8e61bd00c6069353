"""REST views of /api/v1/users/, /teams/ and /tokens/ (routes in accounts.api_urls).

Who may do what:
- users: superusers manage everyone; any user may read and PATCH (password, email) themself;
  the last active superuser cannot delete, demote or deactivate itself.
- teams: any authenticated user reads; superusers write.
- tokens: each user lists, issues and revokes their own; superusers any user's (?user=NAME).
  A caller using a scoped token (accounts.models.ApiToken.is_unrestricted false) issues no tokens
  and is no superuser here.
Every successful write, and every write refused for lack of rights, leaves an audit event.
"""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, permissions, status
from rest_framework.response import Response

from repositories import audit

from .auth import find_user
from .models import ApiToken, Team
from .serializers import NewTokenSerializer, TeamSerializer, TokenSerializer, UserSerializer

User = get_user_model()


def _deny(request, action: str, message: str, **detail):
    audit.record(request, action, outcome="denied", **detail)
    raise exceptions.PermissionDenied(message)


def _restricted_token(request) -> bool:
    """True when the caller acts through a token whose scopes narrow what its owner may do."""
    return isinstance(request.auth, ApiToken) and not request.auth.is_unrestricted()


def _is_superuser(request) -> bool:
    # A scoped token of a superuser is scoped: it does not carry the owner's power over accounts.
    return bool(request.user and request.user.is_superuser) and not _restricted_token(request)


def _save(serializer, what: str):
    """serializer.save() in a transaction; a unique index losing a race becomes a 400, not a 500."""
    try:
        with transaction.atomic():
            return serializer.save()
    except IntegrityError:
        raise exceptions.ValidationError(f"{what} already exists") from None


# --- users ---------------------------------------------------------------------------------


def _last_admin(user) -> bool:
    """True when `user` is the only active superuser (locks the superuser rows until commit)."""
    if not (user.is_superuser and user.is_active):
        return False
    # Lock every admin row in one order so two admins removing each other cannot both succeed.
    admins = list(User.objects.select_for_update().filter(is_superuser=True, is_active=True).order_by("pk").only("pk"))
    return all(a.pk == user.pk for a in admins)


class UserList(generics.ListCreateAPIView):
    """Superusers see every user; anyone else sees only themself."""

    serializer_class = UserSerializer

    def get_queryset(self):
        users = User.objects.prefetch_related("teams").order_by("username")
        return users if _is_superuser(self.request) else users.filter(pk=self.request.user.pk)

    def create(self, request, *args, **kwargs):
        if not _is_superuser(request):
            _deny(request, "user.create", "only superusers create users", target=str(request.data.get("username", "")))
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        user = _save(serializer, "a user with this username")
        audit.record(self.request, "user.create", target=user.username, is_admin=user.is_superuser,
                     service_account=hasattr(user, "service_account"))


class UserDetail(generics.RetrieveUpdateDestroyAPIView):
    """One user by name (ignoring case); a non-superuser may only reach themself."""

    serializer_class = UserSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_object(self):
        name = self.kwargs["username"]
        caller = self.request.user
        if not _is_superuser(self.request) and name.lower() != caller.get_username().lower():
            # Checked before the lookup so a 403/404 difference does not reveal who exists.
            if self.request.method in ("PATCH", "DELETE"):
                _deny(self.request, f"user.{'update' if self.request.method == 'PATCH' else 'delete'}",
                      "you may only change your own account", target=name)
            raise exceptions.PermissionDenied("you may only read your own account")
        user = caller if name.lower() == caller.get_username().lower() else find_user(name)
        if user is None:
            raise Http404
        return user

    def perform_update(self, serializer):
        user = serializer.instance
        data = serializer.validated_data
        if _restricted_token(self.request):
            _deny(self.request, "user.update", "a scoped token cannot change accounts", target=user.username)
        if not _is_superuser(self.request):
            changing = [f for f in ("is_superuser", "is_active") if f in data and data[f] != getattr(user, f)]
            if changing:
                _deny(self.request, "user.update", "only superusers change is_admin or is_active", target=user.username)
        with transaction.atomic():
            demoted = data.get("is_superuser", True) is False or data.get("is_active", True) is False
            if demoted and _last_admin(user):
                raise exceptions.ValidationError("this is the last active superuser; make another one first")
            serializer.save()
        changed = sorted("is_admin" if f == "is_superuser" else f for f in data)
        audit.record(self.request, "user.update", target=user.username, changed=changed)

    def perform_destroy(self, instance):
        if not _is_superuser(self.request):
            _deny(self.request, "user.delete", "only superusers delete users", target=instance.username)
        with transaction.atomic():
            if _last_admin(instance):
                raise exceptions.ValidationError("this is the last active superuser; make another one first")
            instance.delete()
        audit.record(self.request, "user.delete", target=instance.username)


class UserMe(UserDetail):
    """The caller's own account: GET and PATCH."""

    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        return self.request.user


# --- teams ---------------------------------------------------------------------------------


class SuperuserWrites(permissions.BasePermission):
    message = "only superusers change teams"

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS or _is_superuser(request):
            return True
        audit.record(request, f"team.{_WRITE_VERB.get(request.method, 'write')}", outcome="denied",
                     target=view.kwargs.get("name", ""))
        return False


_WRITE_VERB = {"POST": "create", "PATCH": "update", "PUT": "update", "DELETE": "delete"}


class TeamList(generics.ListCreateAPIView):
    serializer_class = TeamSerializer
    permission_classes = [permissions.IsAuthenticated, SuperuserWrites]
    queryset = Team.objects.prefetch_related("members").order_by("name")

    def perform_create(self, serializer):
        team = _save(serializer, "a team with this name")
        audit.record(self.request, "team.create", target=team.name, members=sorted(u.username for u in team.members.all()))


class TeamDetail(generics.RetrieveUpdateDestroyAPIView):
    serializer_class = TeamSerializer
    permission_classes = [permissions.IsAuthenticated, SuperuserWrites]
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_object(self):
        name = self.kwargs["name"]
        team = Team.objects.filter(name=name).first() or Team.objects.filter(name__iexact=name).first()
        if team is None:
            raise Http404
        return team

    def perform_update(self, serializer):
        old_name = serializer.instance.name
        team = _save(serializer, "a team with this name")
        audit.record(self.request, "team.update", target=old_name, changed=sorted(serializer.validated_data),
                     name=team.name, members=sorted(u.username for u in team.members.all()))

    def perform_destroy(self, instance):
        instance.delete()
        audit.record(self.request, "team.delete", target=instance.name)


# --- tokens --------------------------------------------------------------------------------


class TokenList(generics.ListCreateAPIView):
    serializer_class = TokenSerializer

    @extend_schema(parameters=[OpenApiParameter("user", str, description="Superusers: list this user's tokens instead.")])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(request=TokenSerializer, responses={201: NewTokenSerializer})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)

    def get_queryset(self):
        owner = self.request.user
        name = self.request.query_params.get("user")
        if name and name.lower() != owner.get_username().lower():
            if not _is_superuser(self.request):
                raise exceptions.PermissionDenied("only superusers list other users' tokens")
            owner = find_user(name)
            if owner is None:
                raise exceptions.NotFound(f"no user named {name!r}")
        return ApiToken.objects.filter(user=owner).select_related("user").order_by("-created", "-id")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        owner = serializer.validated_data.get("user") or request.user
        if _restricted_token(request):
            # Otherwise a narrow token could mint itself a wide one.
            _deny(request, "token.create", "a scoped token cannot issue tokens", target=owner.username)
        if owner.pk != request.user.pk and not _is_superuser(request):
            _deny(request, "token.create", "only superusers issue tokens for other users", target=owner.username)
        data = serializer.validated_data
        token, raw = ApiToken.issue(owner, data["name"], data.get("expires_at"),
                                    repositories=data.get("repositories"), role=data.get("role", "manage"))
        audit.record(request, "token.create", target=owner.username, token_id=token.pk, name=token.name,
                     repositories=token.repositories, role=token.role)
        body = NewTokenSerializer(token).data
        body["token"] = raw
        return Response(body, status=status.HTTP_201_CREATED)


class TokenDetail(generics.RetrieveDestroyAPIView):
    """One token; another user's token is a 404 to non-superusers (its existence is not theirs to know)."""

    serializer_class = TokenSerializer

    def get_queryset(self):
        tokens = ApiToken.objects.select_related("user")
        return tokens if _is_superuser(self.request) else tokens.filter(user=self.request.user)

    def perform_destroy(self, instance):
        token_id = instance.pk
        instance.delete()
        audit.record(self.request, "token.delete", target=instance.user.username, token_id=token_id, name=instance.name)
