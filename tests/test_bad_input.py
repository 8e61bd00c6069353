"""Bad input over real HTTP against `packyard serve`: clear 4xx answers, nothing stored."""
import requests

from tests.pydists import make_wheel


def _upload(server, repo, wheel, **fields):
    data = {":action": "file_upload", "protocol_version": "1", "name": "badpkg", "version": "1.0",
            "filetype": "bdist_wheel", "pyversion": "py3", **fields}
    with open(wheel, "rb") as fh:
        return requests.post(f"{server.url}/repository/{repo}/", data=data, auth=server.admin,
                             files={"content": (wheel.name, fh, "application/octet-stream")})


def test_unknown_repository_and_format_mismatch(packyard, tmp_path):
    wheel = make_wheel(tmp_path, "badpkg", "1.0")
    assert _upload(packyard, "no-such-repo", wheel).status_code == 404
    packyard.create_repo("bad-npm", "npm")
    mismatch = _upload(packyard, "bad-npm", wheel)
    assert 400 <= mismatch.status_code < 500
    assert packyard.api("GET", "repositories/bad-npm/packages/").json() in ([], {"count": 0, "next": None, "previous": None, "results": []})


def test_traversal_and_wrong_digest_store_nothing(packyard, tmp_path):
    packyard.create_repo("bad-pypi", "pypi")
    wheel = make_wheel(tmp_path, "badpkg", "1.0")
    assert _upload(packyard, "bad-pypi", wheel, sha256_digest="0" * 64).status_code == 400
    assert _upload(packyard, "bad-pypi", wheel, name="../etc").status_code == 400
    for path in ("files/../../etc/passwd", "files/badpkg/..%2f..%2fsecret", "simple/..%2f/"):
        response = requests.get(f"{packyard.url}/repository/bad-pypi/{path}", auth=packyard.admin)
        assert response.status_code in (400, 404), (path, response.status_code)
    listing = packyard.api("GET", "repositories/bad-pypi/packages/").json()
    assert (listing["results"] if isinstance(listing, dict) else listing) == []
