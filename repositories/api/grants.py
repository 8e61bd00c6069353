"""Who may do what in one repository: GET, POST /api/v1/repositories/NAME/permissions/, DELETE .../ID/.

A grant is {id, user | team, role}; every endpoint needs the `manage` role on the repository.
A POST for a user or team that already holds a grant replaces its role (200); a new grant is 201.
"""
from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, permissions, serializers, status
from rest_framework.response import Response

from accounts.models import Team
from repositories.models import Grant
from repositories.permissions import ROLES

from . import access


class GrantSerializer(serializers.ModelSerializer):
    user = serializers.CharField(required=False, allow_null=True, help_text="a username (or team, not both)")
    team = serializers.CharField(required=False, allow_null=True, help_text="a team name (or user, not both)")
    role = serializers.ChoiceField(choices=list(ROLES), help_text="each role includes the ones before it")

    class Meta:
        model = Grant
        fields = ["id", "user", "team", "role"]
        read_only_fields = ["id"]

    def to_representation(self, grant):
        return {
            "id": grant.pk,
            "user": grant.user.get_username() if grant.user_id else None,
            "team": grant.team.name if grant.team_id else None,
            "role": grant.role,
        }

    def validate(self, attrs):
        username, team_name = attrs.get("user"), attrs.get("team")
        if bool(username) == bool(team_name):
            raise exceptions.ValidationError("give exactly one of user and team")
        if username:
            attrs["user"] = _user_named(username)
            attrs["team"] = None
        else:
            team = Team.objects.filter(name=team_name).first()
            if team is None:
                raise exceptions.ValidationError({"team": [f"no such team: {team_name}"]})
            attrs["team"] = team
            attrs["user"] = None
        return attrs


def _user_named(username: str):
    User = get_user_model()
    user = User.objects.filter(username=username).first() or User.objects.filter(username__iexact=username).first()
    if user is None:
        raise exceptions.ValidationError({"user": [f"no such user: {username}"]})
    return user


class GrantList(generics.ListCreateAPIView):
    serializer_class = GrantSerializer
    permission_classes = [permissions.AllowAny]  # access.repository_for checks `manage`

    def repository(self, audit_action=None):
        return access.repository_for(self.request, self.kwargs["name"], "manage", audit_action=audit_action)

    def get_queryset(self):
        return Grant.objects.filter(repository=self.repository()).select_related("user", "team").order_by("id")

    @extend_schema(responses={200: GrantSerializer, 201: GrantSerializer})
    def post(self, request, *args, **kwargs):
        repo = self.repository(audit_action="permission.grant")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        holder = {"user": data["user"]} if data["user"] else {"team": data["team"]}
        # update_or_create locks the row and retries a lost insert race, so replacing is safe.
        grant, created = Grant.objects.update_or_create(repository=repo, **holder, defaults={"role": data["role"]})
        access.record(request, "permission.grant", repository=repo, grant=grant.pk, role=grant.role,
                      **{k: (v.get_username() if k == "user" else v.name) for k, v in holder.items()})
        return Response(GrantSerializer(grant).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class GrantDetail(generics.DestroyAPIView):
    serializer_class = GrantSerializer
    permission_classes = [permissions.AllowAny]

    def get_object(self):
        repo = access.repository_for(self.request, self.kwargs["name"], "manage", audit_action="permission.revoke")
        grant = Grant.objects.filter(repository=repo, pk=self.kwargs["pk"]).select_related("user", "team").first()
        if grant is None:
            raise exceptions.NotFound(f"repository {repo.name} has no permission {self.kwargs['pk']}")
        return grant

    def perform_destroy(self, grant):
        detail = GrantSerializer(grant).data
        grant.delete()
        access.record(self.request, "permission.revoke", repository=self.kwargs["name"], grant=detail["id"],
                      role=detail["role"], **{k: detail[k] for k in ("user", "team") if detail[k]})
