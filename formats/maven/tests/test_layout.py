"""Path parsing, version order and metadata documents: pure functions, no database."""
from __future__ import annotations

import pytest

from formats.maven import layout, metadata as md, versions


@pytest.mark.parametrize("path,classifier,extension,timestamp,build", [
    ("org/example/app/1.0/app-1.0.jar", "", "jar", "", 0),
    ("org/example/app/1.0/app-1.0-sources.jar", "sources", "jar", "", 0),
    ("org/example/app/1.0/app-1.0.tar.gz", "", "tar.gz", "", 0),
    ("org/example/app/1.0/app-1.0.jar.asc", "", "jar.asc", "", 0),
    ("org/example/app/1.0-SNAPSHOT/app-1.0-20240501.120000-3-linux-x86_64.jar", "linux-x86_64", "jar", "20240501.120000", 3),
    ("org/example/app/1.0-SNAPSHOT/app-1.0-SNAPSHOT.pom", "", "pom", "", 0),
])
def test_file_paths(path, classifier, extension, timestamp, build):
    mp = layout.parse(path)
    assert (mp.kind, mp.group, mp.artifact) == ("file", "org.example", "app")
    assert (mp.classifier, mp.extension, mp.timestamp, mp.build) == (classifier, extension, timestamp, build)


def test_checksum_and_metadata_paths():
    mp = layout.parse("org/example/app/1.0/app-1.0.jar.sha512")
    assert (mp.checksum, mp.target) == ("sha512", "org/example/app/1.0/app-1.0.jar")
    assert layout.parse("org/example/app/maven-metadata.xml").level == "artifact"
    snap = layout.parse("org/example/app/1.0-SNAPSHOT/maven-metadata.xml.sha1")
    assert (snap.level, snap.version, snap.checksum) == ("snapshot", "1.0-SNAPSHOT", "sha1")


@pytest.mark.parametrize("path", [
    "org/example/app/1.0/other-1.0.jar", "org/example/app/1.0/app-2.0.jar", "org/../app/1.0/app-1.0.jar",
    "/org/app/1.0/app-1.0.jar", "app/1.0/app-1.0.jar", "org/example/app/1.0/app-1.0", "org//app/1.0/app-1.0.jar",
    "org/example/app/1.0-SNAPSHOT/app-1.0-2024.jar", "org/ex ample/app/1.0/app-1.0.jar", "maven-metadata.xml",
])
def test_bad_paths(path):
    with pytest.raises(layout.BadPath):
        layout.parse(path)


def test_version_order():
    given = ["1.10", "1.9", "1.0", "1.0-SNAPSHOT", "1.0-rc1", "1.0-alpha-1", "1.0-beta", "1.0.1", "1.0-sp"]
    assert versions.ordered(given) == ["1.0-alpha-1", "1.0-beta", "1.0-rc1", "1.0-SNAPSHOT", "1.0", "1.0-sp",
                                       "1.0.1", "1.9", "1.10"]


def test_parse_refuses_entities_and_garbage():
    for bad in [b"<metadata>", b"not xml", b'<!DOCTYPE m [<!ENTITY x "y">]><metadata>&x;</metadata>', b"<other/>"]:
        with pytest.raises(md.BadMetadata):
            md.parse(bad)
    with pytest.raises(md.BadMetadata):
        md.parse(b"<metadata>" + b" " * md.MAX_BYTES + b"</metadata>")


def test_merge_recomputes_latest_and_release():
    a = md.parse(md.render({**md.empty("g", "a"), "versions": ["1.0", "2.0-SNAPSHOT"], "lastUpdated": "20240101000000"}))
    b = md.parse(b"<metadata><groupId>g</groupId><artifactId>a</artifactId><versioning><latest>1.5</latest>"
                 b"<versions><version>1.5</version><version>1.0</version></versions>"
                 b"<lastUpdated>20250101000000</lastUpdated></versioning></metadata>")
    other = md.parse(md.render({**md.empty("g", "zzz"), "versions": ["9.0"]}))
    merged = md.parse(md.render(md.merge([a, b, other])))
    assert merged["versions"] == ["1.0", "1.5", "2.0-SNAPSHOT"]
    assert merged["lastUpdated"] == "20250101000000"
    text = md.render(merged).decode()
    assert "<latest>2.0-SNAPSHOT</latest>" in text and "<release>1.5</release>" in text
