"""Serializers of /api/v1/users/, /teams/ and /tokens/: what goes in, what comes out, never a hash."""
from __future__ import annotations

from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models.functions import Lower
from django.utils import timezone
from rest_framework import serializers

from repositories.names import REPOSITORY_NAME

from .auth import find_user, is_service_account
from .models import ALL_REPOSITORIES, TOKEN_ROLES, ApiToken, ServiceAccount, Team

User = get_user_model()

# /api/v1/users/me/ means the caller, so no user may be called that.
RESERVED_USERNAMES = frozenset({"me"})


def _check_password(password: str, user=None) -> str:
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(list(exc.messages)) from None
    return password


class UserSerializer(serializers.ModelSerializer):
    username = serializers.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
    # Optional on create: a user without one (a CI account, say) logs in with API tokens only.
    password = serializers.CharField(write_only=True, required=False, trim_whitespace=False, max_length=4096,
                                     style={"input_type": "password"})
    email = serializers.EmailField(required=False, allow_blank=True)
    is_admin = serializers.BooleanField(source="is_superuser", required=False,
                                        help_text="Superuser: holds every role on every repository and manages users and teams.")
    is_active = serializers.BooleanField(required=False, help_text="False: every login and token of the user is refused.")
    teams = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    service_account = serializers.BooleanField(
        required=False, default=False,
        help_text="Set on create only: an account that never logs in with a password, only with API tokens.")
    directory = serializers.SerializerMethodField(help_text="True for a user who logs in through LDAP.")

    class Meta:
        model = User
        fields = ["username", "password", "email", "is_admin", "is_active", "service_account", "directory", "teams",
                  "date_joined"]
        read_only_fields = ["date_joined"]

    def get_directory(self, user) -> bool:
        return hasattr(user, "directory_account")

    def to_representation(self, user):
        data = super().to_representation(user)
        data["service_account"] = is_service_account(user)
        return data

    def validate(self, attrs):
        service = attrs.get("service_account", False)
        if self.instance is not None:
            if "service_account" in self.initial_data and service != is_service_account(self.instance):
                raise serializers.ValidationError({"service_account": "can only be chosen when the user is created"})
            attrs.pop("service_account", None)
            if "password" in attrs and is_service_account(self.instance):
                raise serializers.ValidationError({"password": "a service account has no password; it uses API tokens"})
        elif service and attrs.get("password"):
            raise serializers.ValidationError({"password": "a service account has no password; it uses API tokens"})
        return attrs

    def validate_username(self, value: str) -> str:
        if self.instance is not None:
            if value != self.instance.username:
                raise serializers.ValidationError("a username cannot be changed")
            return value
        if value.lower() in RESERVED_USERNAMES:
            raise serializers.ValidationError(f"{value!r} is reserved")
        if User.objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError(f"a user named {value!r} already exists (usernames ignore case)")
        return value

    def validate_password(self, value: str) -> str:
        return _check_password(value, self.instance)

    def create(self, validated_data):
        password = validated_data.pop("password", None)
        is_admin = validated_data.pop("is_superuser", False)
        service = validated_data.pop("service_account", False)
        user = User(**validated_data, is_superuser=is_admin, is_staff=is_admin)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        if service:
            ServiceAccount.objects.create(user=user)
        return user

    def update(self, instance, validated_data):
        if "password" in validated_data:
            instance.set_password(validated_data.pop("password"))
        if "is_superuser" in validated_data:
            # is_staff follows so the Django admin site agrees with the API about who is an admin.
            instance.is_superuser = instance.is_staff = validated_data.pop("is_superuser")
        for field, value in validated_data.items():
            setattr(instance, field, value)
        instance.save()
        return instance


class UsernameListField(serializers.ListField):
    """Usernames in and out; reads a many-to-many manager of users."""

    child = serializers.CharField(max_length=150)

    def to_representation(self, data):
        users = data.all() if hasattr(data, "all") else data
        return sorted(u.get_username() for u in users)


def users_named(names: list[str]) -> list:
    """The users with these names (ignoring case), or ValidationError naming every unknown one."""
    wanted = {n.lower(): n for n in names}
    found = {u.username.lower(): u for u in User.objects.annotate(lname=Lower("username")).filter(lname__in=wanted)}
    unknown = [n for key, n in wanted.items() if key not in found]
    if unknown:
        raise serializers.ValidationError(f"unknown users: {', '.join(sorted(unknown))}")
    return list(found.values())


class TeamSerializer(serializers.ModelSerializer):
    name = serializers.CharField(max_length=150)
    members = UsernameListField(required=False, help_text="Usernames; a PATCH replaces the whole list.")

    class Meta:
        model = Team
        fields = ["name", "members", "created"]
        read_only_fields = ["created"]

    def validate_name(self, value: str) -> str:
        # Team names come from people and from LDAP group cns (spaces allowed), but sit in URL paths.
        if "/" in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise serializers.ValidationError("a team name may not contain '/' or control characters")
        clash = Team.objects.filter(name__iexact=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(f"a team named {value!r} already exists (team names ignore case)")
        return value

    def validate_members(self, value: list[str]) -> list:
        return users_named(value)

    def create(self, validated_data):
        members = validated_data.pop("members", [])
        team = Team.objects.create(**validated_data)
        team.members.set(members)
        return team

    def update(self, instance, validated_data):
        members = validated_data.pop("members", None)
        for field, value in validated_data.items():
            setattr(instance, field, value)
        instance.save()
        if members is not None:
            instance.members.set(members)
        return instance


class UserNameField(serializers.CharField):
    """A user, written and shown as the username."""

    def to_representation(self, value):
        return value.get_username()

    def to_internal_value(self, data):
        name = super().to_internal_value(data)
        user = find_user(name) if len(name) <= 150 else None
        if user is None:
            raise serializers.ValidationError(f"unknown user {name!r}")
        return user


class TokenSerializer(serializers.ModelSerializer):
    user = UserNameField(required=False,
                         help_text="Owner; defaults to the caller, and only superusers may name someone else.")
    prefix = serializers.CharField(read_only=True, help_text="The secret's first characters, to tell tokens apart.")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Absent or null: never expires.")

    repositories = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, allow_empty=False,
        help_text='Repository names the token may act on, or ["*"] (the default) for all.')
    role = serializers.ChoiceField(
        choices=TOKEN_ROLES, required=False, default="manage",
        help_text="The highest role the token may use (read < deploy < delete < manage); the owner's roles still cap it.")

    class Meta:
        model = ApiToken
        fields = ["id", "name", "user", "prefix", "repositories", "role", "expires_at", "created", "last_used"]
        read_only_fields = ["id", "created", "last_used"]

    def validate_repositories(self, value: list[str]) -> list[str]:
        bad = [n for n in value if n != ALL_REPOSITORIES and not REPOSITORY_NAME.match(n)]
        if bad:
            raise serializers.ValidationError(f"not repository names: {', '.join(map(repr, bad))}")
        return [ALL_REPOSITORIES] if ALL_REPOSITORIES in value else sorted(set(value))

    def validate_expires_at(self, value):
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("expires_at is in the past")
        return value


class NewTokenSerializer(TokenSerializer):
    token = serializers.CharField(read_only=True, help_text="The secret; shown in this answer only, never again.")

    class Meta(TokenSerializer.Meta):
        fields = TokenSerializer.Meta.fields + ["token"]
