"""Fixtures shared by the format plugins' in-process tests: users and repositories of one format.

Each format's conftest imports `make_user` (a fixture) and builds its `make_repo` fixture with
`repo_maker("<format>")`.
"""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from repositories.models import Grant, Repository, VirtualMember

PASSWORD = "pw-for-tests"


@pytest.fixture
def make_user(db):
    def make(username: str, **fields):
        return get_user_model().objects.create_user(username, password=PASSWORD, **fields)

    return make


def repo_maker(fmt: str):
    """make(name, kind="local", members=(), grants={user: role}, settings=None, **fields) -> Repository."""

    def make(name: str, kind: str = "local", members=(), grants=None, settings=None, **fields):
        repo = Repository.objects.create(name=name, format=fmt, kind=kind, settings=settings or {}, **fields)
        for position, member in enumerate(members):
            VirtualMember.objects.create(virtual=repo, member=member, position=position)
        for user, role in (grants or {}).items():
            Grant.objects.create(repository=repo, user=user, role=role)
        return repo

    return make
