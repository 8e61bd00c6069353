"""The /v2/ router: authentication, the repository and image a name means, the access check, the handler.

    /v2/                                  200 for valid credentials, else 401 + Bearer challenge
    /v2/token                             the token endpoint (auth.token_view)
    /v2/_catalog                          images the caller may read
    /v2/<name>/blobs/uploads/[<uuid>]     uploads          push
    /v2/<name>/blobs/<digest>             blobs            pull (DELETE: delete)
    /v2/<name>/manifests/<reference>      manifests        pull (PUT: push, DELETE: delete)
    /v2/<name>/tags/list                  tags             pull
    /v2/<name>/referrers/<digest>         referrers        pull
<name> is REPO/IMAGE...: the first component is the Packyard repository. Every error is rendered
in the OCI JSON shape with Docker-Distribution-API-Version, including on HEAD (without a body).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from formats.base import HttpError, Repository, deploy_target, find_repository

from . import auth, blobs, listing, manifests
from .errors import API_VERSION, DockerError, check_name, render_exception

READ = ("GET", "HEAD")
ROUTES = [
    (re.compile(r"^(?P<name>.+)/blobs/uploads/?$"), "uploads"),
    (re.compile(r"^(?P<name>.+)/blobs/uploads/(?P<arg>[^/]+)$"), "upload"),
    (re.compile(r"^(?P<name>.+)/blobs/(?P<arg>[^/]+)$"), "blob"),
    (re.compile(r"^(?P<name>.+)/manifests/(?P<arg>[^/]+)$"), "manifest"),
    (re.compile(r"^(?P<name>.+)/tags/list$"), "tags"),
    (re.compile(r"^(?P<name>.+)/referrers/(?P<arg>[^/]+)$"), "referrers"),
]
# route -> method -> (action, handler)
HANDLERS = {
    "uploads": {"POST": ("push", lambda ctx, arg: blobs.start_upload(ctx))},
    "upload": {m: ("push", blobs.upload) for m in ("GET", "HEAD", "PATCH", "PUT", "DELETE")},
    "blob": {"GET": ("pull", blobs.get_blob), "HEAD": ("pull", blobs.get_blob), "DELETE": ("delete", blobs.delete_blob)},
    "manifest": {"GET": ("pull", manifests.get_manifest), "HEAD": ("pull", manifests.get_manifest),
                 "PUT": ("push", manifests.put_manifest), "DELETE": ("delete", manifests.delete_manifest)},
    "tags": {"GET": ("pull", lambda ctx, arg: listing.tags_list(ctx))},
    "referrers": {"GET": ("pull", listing.referrers)},
}


@dataclass
class Context:
    request: object
    principal: auth.Principal
    name: str
    image: str
    repository: Repository

    @property
    def username(self) -> str:
        return self.principal.user.get_username() if self.principal.authenticated else ""

    def write_target(self) -> Repository:
        """Where writes land: the repository itself, or a virtual's deploy_to; proxies refuse."""
        if self.repository.kind == "remote":
            raise DockerError(405, "UNSUPPORTED", f"{self.repository.name} is a pull-through cache; pushes and deletes "
                              "are not supported", headers={"Allow": "GET, HEAD"})
        target = deploy_target(self.repository)
        if target is None:
            raise DockerError(405, "UNSUPPORTED", f"virtual repository {self.repository.name} has no deploy_to "
                              "repository; writes are refused", headers={"Allow": "GET, HEAD"})
        return target


@csrf_exempt
def dispatch(request, rest: str = ""):
    try:
        return _dispatch(request, rest)
    except HttpError as exc:
        return render_exception(request, exc)


def _dispatch(request, rest: str):
    if rest == "":
        return _base(request)
    if rest == "token":
        return auth.token_view(request)
    if rest == "_catalog":
        if request.method not in READ:
            raise DockerError(405, "UNSUPPORTED", "the catalog is read-only", headers={"Allow": "GET"})
        principal = auth.principal_of(request)
        if not principal.authenticated and principal.access is None:
            raise DockerError(401, "UNAUTHORIZED", "authentication required",
                              headers=auth.challenge(request, "registry:catalog:*"))
        return listing.catalog(request, principal)
    for pattern, route in ROUTES:
        match = pattern.match(rest)
        if match:
            break
    else:
        raise DockerError(404, "NAME_UNKNOWN", "no such endpoint", {"path": rest[:300]})
    name, arg = match.group("name"), match.groupdict().get("arg")
    methods = HANDLERS[route]
    if request.method not in methods:
        raise DockerError(405, "UNSUPPORTED", f"{request.method} is not allowed here",
                          headers={"Allow": ", ".join(methods)})
    action, handler = methods[request.method]
    principal = auth.principal_of(request)
    repo_name, image = check_name(name)
    repository = find_repository(repo_name, "docker")
    auth.check(request, principal, action, repository, name)
    return handler(Context(request, principal, name, image, repository), arg)


def _base(request):
    principal = auth.principal_of(request)
    if not principal.authenticated and principal.access is None:
        raise DockerError(401, "UNAUTHORIZED", "authentication required", headers=auth.challenge(request))
    response = JsonResponse({})
    for key, value in API_VERSION.items():
        response[key] = value
    return response
