"""A repository name -> the Repository, and a virtual repository -> its members in order (flattened)."""
from __future__ import annotations

from .models import Repository


class NotFound(Exception):
    pass


def get_repository(name: str) -> Repository:
    repo = Repository.objects.filter(name=name).first()
    if repo is None:
        raise NotFound(name)
    return repo


def members(repository: Repository) -> list[Repository]:
    """The concrete (local/remote) repositories to read, in order; nested virtuals are expanded once."""
    if repository.kind != "virtual":
        return [repository]
    seen: set[int] = {repository.pk}
    out: list[Repository] = []

    def walk(repo: Repository):
        for member in repo.member_list():
            if member.pk in seen:
                continue
            seen.add(member.pk)
            if member.kind == "virtual":
                walk(member)
            else:
                out.append(member)

    walk(repository)
    return out


def deploy_target(repository: Repository) -> Repository | None:
    """Where a publish to `repository` lands: itself if local, its deploy_to member if virtual."""
    if repository.kind == "local":
        return repository
    if repository.kind == "virtual" and repository.deploy_to_id:
        target = repository.deploy_to
        return target if target.kind == "local" else None
    return None
