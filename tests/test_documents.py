"""Rendered documents: built once per ETag, 304 on a match, HEAD without a body, old files collected."""
import os
import time

from django.test import RequestFactory

from artifacts import documents


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_built_once_then_served_from_disk(settings, tmp_path):
    settings.PACKYARD_HOME = tmp_path
    calls = []

    def build():
        calls.append(1)
        return b'{"name": "x"}'

    factory = RequestFactory()
    first = documents.respond(factory.get("/"), "etag-1", "application/json", build, {"Vary": "Accept"})
    second = documents.respond(factory.get("/"), "etag-1", "application/json", build)
    assert _body(first) == _body(second) == b'{"name": "x"}' and len(calls) == 1
    assert first["ETag"] == '"etag-1"' and first["Vary"] == "Accept" and first["Content-Length"] == "13"
    assert documents.respond(factory.get("/", HTTP_IF_NONE_MATCH='"etag-1"'), "etag-1", "application/json", build).status_code == 304
    head = documents.respond(factory.head("/"), "etag-1", "application/json", build)
    assert head["Content-Length"] == "13" and head.content == b""
    # A new ETag (the rows changed) renders again.
    documents.respond(factory.get("/"), "etag-2", "application/json", build)
    assert len(calls) == 2


def test_collect_removes_only_unused_documents(settings, tmp_path):
    settings.PACKYARD_HOME = tmp_path
    factory = RequestFactory()
    documents.respond(factory.get("/"), "old", "text/plain", lambda: b"old")
    documents.respond(factory.get("/"), "new", "text/plain", lambda: b"new!")
    old = documents._path("old")
    past = time.time() - 2 * documents.MAX_AGE_SECONDS
    os.utime(old, (past, past))
    assert documents.collect() == (1, 3)
    assert not old.exists() and documents._path("new").exists()
