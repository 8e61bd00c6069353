"""Background work for repositories: refreshing a remote's metadata past its TTL."""
from __future__ import annotations

from celery import shared_task
from django.core.cache import cache


@shared_task(ignore_result=True)
def refresh_metadata_task(repository_id: int, key: str, url: str, headers: dict):
    from .models import Repository
    from .upstream import UpstreamMissing, UpstreamUnavailable, refresh_metadata

    try:
        repository = Repository.objects.filter(pk=repository_id).first()
        if repository is not None:
            refresh_metadata(repository, key, url, headers, force=True)
    except (UpstreamMissing, UpstreamUnavailable):
        pass
    finally:
        cache.delete(f"refresh:{repository_id}:{key}")
