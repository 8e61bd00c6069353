"""NpmPlugin: routes /repository/<name>/... of an npm repository; errors are npm's JSON `{"error": ...}`.

URL map (path = what follows /repository/<name>/; `@scope%2fname` arrives decoded as `@scope/name`):
    <pkg>                                  GET/HEAD packument (full or abbreviated); PUT publish or metadata edit
    <pkg>/<version|tag>                    GET one version document
    <pkg>/-/<file>.tgz                     GET/HEAD tarball
    <pkg>/-rev/<rev>                       PUT metadata edit (unpublish of a version); DELETE the whole package
    <pkg>/-/<file>.tgz/-rev/<rev>          DELETE one tarball
    -/package/<pkg>/dist-tags[/<tag>]      GET map; PUT/POST add, DELETE remove
    -/user/org.couchdb.user:<user>         PUT login (answers a token); GET the user
    -/user/token/<token>                   DELETE logout
    -/npm/v1/tokens[/token/<key>]          GET list, POST create, DELETE revoke (npm token; tokens.py)
    -/whoami  -/ping  -/v1/search          GET
    -/v1/login                             404, so npm falls back to the CouchDB login
    -/npm/v1/security/{advisories/bulk,audits/quick}   POST audit (forwarded or {})
"""
from __future__ import annotations

from django.http import JsonResponse

from formats.base import FormatPlugin, HttpError, _reason

from . import account, extras, hooks, names, packument, publish, tarballs, tokens

READ = ("GET", "HEAD")


def _allow(request, *methods: str) -> None:
    if request.method not in methods:
        raise HttpError(405, f"{request.method} is not allowed here", {"Allow": ", ".join(methods)})


class NpmPlugin(FormatPlugin):
    name = "npm"

    def error(self, request, status, message, headers=None):
        response = JsonResponse({"error": message}, status=status, reason=_reason(message))
        for key, value in (headers or {}).items():
            response[key] = value
        return response

    def handle(self, request, repository, path):
        parts = path.split("/")
        if path == "" or any(p in ("", ".", "..") for p in parts):
            if path == "":
                raise HttpError(405 if request.method != "GET" else 404,
                                "this is an npm registry: point npm at this URL (npm config set registry ...)")
            raise HttpError(400, "invalid path")
        if parts[0] == "-":
            return self._special(request, repository, parts[1:])
        if parts[0].startswith("@"):
            if len(parts) < 2:
                raise HttpError(400, f"invalid package name {parts[0]!r}")
            name, rest = f"{parts[0]}/{parts[1]}", parts[2:]
        else:
            name, rest = parts[0], parts[1:]
        names.check_name(name)
        if not rest:
            if request.method in READ:
                return packument.packument(request, repository, name)
            _allow(request, "GET", "HEAD", "PUT")
            return publish.put_package(request, repository, name)
        if rest[0] == "-rev" and len(rest) == 2:
            if request.method == "DELETE":
                return publish.delete_package(request, repository, name)
            _allow(request, "PUT", "DELETE")
            return publish.put_package(request, repository, name)
        if rest[0] == "-" and len(rest) == 2:
            _allow(request, *READ)
            return tarballs.download(request, repository, name, rest[1])
        if rest[0] == "-" and len(rest) == 4 and rest[2] == "-rev":
            _allow(request, "DELETE")
            if not names.valid_filename(rest[1]):
                raise HttpError(400, f"invalid file name {rest[1]!r}")
            return publish.delete_tarball(request, repository, name, rest[1])
        if len(rest) == 1 and rest[0] != "-":
            _allow(request, *READ)
            return packument.version_document(request, repository, name, rest[0])
        raise HttpError(404, "Not found")

    def _special(self, request, repository, rest: list[str]):
        joined = "/".join(rest)
        if joined == "ping":
            return account.ping(request)
        if joined == "whoami":
            _allow(request, *READ)
            return account.whoami(request)
        if len(rest) == 2 and rest[0] == "user" and rest[1].startswith("org.couchdb.user:"):
            user = rest[1].split(":", 1)[1]
            if request.method == "PUT":
                return account.login(request, repository, user)
            _allow(request, "GET", "PUT")
            return account.user_info(request, user)
        if len(rest) == 3 and rest[:2] == ["user", "token"]:
            _allow(request, "DELETE")
            return account.logout(request, repository, rest[2])
        if joined == "npm/v1/tokens":
            _allow(request, "GET", "POST")
            return tokens.list_tokens(request) if request.method == "GET" else tokens.create_token(request, repository)
        if len(rest) == 5 and rest[:4] == ["npm", "v1", "tokens", "token"]:
            _allow(request, "DELETE")
            return tokens.revoke_token(request, repository, rest[4])
        if joined == "v1/search":
            _allow(request, *READ)
            return extras.search(request, repository)
        if joined in ("npm/v1/security/advisories/bulk", "npm/v1/security/audits/quick"):
            _allow(request, "POST")
            return extras.security(request, repository, "/".join(rest[3:]))
        if rest and rest[0] == "package" and "dist-tags" in rest:
            at = rest.index("dist-tags")
            name = "/".join(rest[1:at])
            tail = rest[at + 1:]
            if len(tail) > 1 or at < 2:
                raise HttpError(404, "Not found")
            return extras.dist_tags(request, repository, name, tail[0] if tail else None)
        raise HttpError(404, "Not found")

    def validate_settings(self, kind, format_settings):
        return hooks.validate_settings(format_settings)

    def delete_version(self, repository, package, version):
        return hooks.delete_version(repository, package, version)

    def packages(self, repository):
        return hooks.packages(repository)
