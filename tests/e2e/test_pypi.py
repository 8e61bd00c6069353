"""End to end: the real twine and pip against `packyard serve`, through local, remote and virtual repositories."""
from __future__ import annotations

import concurrent.futures
import time

import pytest
import requests

from tests.pydists import make_sdist, make_wheel, write_simple_index
from tests.servers import StaticServer

from .clients import FreshVenv, twine_upload, with_credentials

PASSWORDS = {"alice": "alice-pw-1", "bob": "bob-pw-1", "carol": "carol-pw-1"}


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    d = tmp_path_factory.mktemp("dists")
    return {
        "alpha": make_wheel(d / "a", "alpha-pkg", "1.0", requires=["beta-pkg>=2"]),
        "alpha_sdist": make_sdist(d / "a", "alpha-pkg", "1.0"),
        "alpha_other": make_wheel(d / "other", "alpha-pkg", "1.0", payload_bytes=100),
        "beta": make_wheel(d / "b", "beta-pkg", "2.0", requires_python=">=3.8"),
        "epsilon": make_wheel(d / "e", "epsilon", "0.1"),
        # upstream (a public index, in the remote tests)
        "gamma": make_wheel(d / "up", "gamma", "1.0", requires=["delta"]),
        "delta": make_wheel(d / "up", "delta", "0.5"),
        "alpha_public": make_wheel(d / "up", "alpha-pkg", "99.0"),
    }


@pytest.fixture(scope="module")
def site(packyard):
    for user, password in PASSWORDS.items():
        packyard.ensure_user(user, password)
    packyard.create_repo("e2e-local", "pypi")
    packyard.grant("e2e-local", "deploy", user="alice")
    packyard.grant("e2e-local", "read", user="bob")
    return packyard


def simple(server, repo: str) -> str:
    return f"{server.url}/repository/{repo}/simple/"


def test_twine_upload_and_pip_install_from_local(site, dists):
    upload_url = f"{site.url}/repository/e2e-local/"
    done = twine_upload(upload_url, [dists["alpha"], dists["alpha_sdist"], dists["beta"]], "alice", PASSWORDS["alice"])
    assert done.returncode == 0, done.stdout + done.stderr

    venv = FreshVenv()
    result = venv.pip_install(with_credentials(simple(site, "e2e-local"), "bob", PASSWORDS["bob"]), "alpha-pkg")
    assert result.returncode == 0, result.stdout + result.stderr
    assert venv.run("import alpha_pkg, beta_pkg; print(alpha_pkg.VERSION, beta_pkg.VERSION)") == "1.0 2.0"


def test_permissions_through_real_clients(site, dists):
    upload_url = f"{site.url}/repository/e2e-local/"
    # carol holds no role: 403; bob only reads: 403; wrong password: 401.
    for user, password, status in [("carol", PASSWORDS["carol"], "403"), ("bob", PASSWORDS["bob"], "403"),
                                   ("alice", "wrong-password", "401")]:
        done = twine_upload(upload_url, [dists["epsilon"]], user, password)
        assert done.returncode != 0
        assert status in done.stdout + done.stderr, done.stdout + done.stderr

    # pip reports a refused index page only as "no matching distribution"; the statuses are checked raw.
    anonymous = FreshVenv().pip_install(simple(site, "e2e-local"), "beta-pkg")
    assert anonymous.returncode != 0
    page = requests.get(simple(site, "e2e-local") + "beta-pkg/")
    assert page.status_code == 401 and page.headers["WWW-Authenticate"].startswith("Basic")

    forbidden = FreshVenv().pip_install(with_credentials(simple(site, "e2e-local"), "carol", PASSWORDS["carol"]), "beta-pkg")
    assert forbidden.returncode != 0
    assert requests.get(simple(site, "e2e-local") + "beta-pkg/", auth=("carol", PASSWORDS["carol"])).status_code == 403


def test_api_token_upload_and_file_reuse(site, dists):
    created = site.api("POST", "tokens/", auth=("alice", PASSWORDS["alice"]), json={"name": "ci"})
    assert created.status_code == 201, created.text
    token = created.json()["token"]
    upload_url = f"{site.url}/repository/e2e-local/"

    done = twine_upload(upload_url, [dists["epsilon"]], "__token__", token)
    assert done.returncode == 0, done.stdout + done.stderr
    # An identical re-upload succeeds (twine retries); other content under the same name does not.
    again = twine_upload(upload_url, [dists["epsilon"]], "__token__", token)
    assert again.returncode == 0, again.stdout + again.stderr
    clash = twine_upload(upload_url, [dists["alpha_other"]], "__token__", token)
    assert clash.returncode != 0
    assert "File already exists" in clash.stdout + clash.stderr
    assert "400" in clash.stdout + clash.stderr  # with "already exist": what twine's --skip-existing recognises

    venv = FreshVenv()
    result = venv.pip_install(with_credentials(simple(site, "e2e-local"), "__token__", token), "alpha-pkg==1.0")
    assert result.returncode == 0, result.stdout + result.stderr
    # The stored alpha wheel is still the first upload, not the clashing one.
    assert venv.run("import alpha_pkg, os; print(os.path.exists(os.path.join(os.path.dirname(alpha_pkg.__file__), 'payload.bin')))") == "False"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory, dists):
    root = tmp_path_factory.mktemp("upstream")
    write_simple_index(root, [dists["gamma"], dists["delta"], dists["alpha_public"]])
    server = StaticServer(root)
    yield server
    server.stop()


def test_remote_and_virtual_with_real_pip(site, dists, upstream):
    site.create_repo("e2e-remote", "pypi", "remote", upstream_url=upstream.url + "/simple/", metadata_ttl=3600)
    site.create_repo("e2e-all", "pypi", "virtual", members=["e2e-local", "e2e-remote"], deploy_to="e2e-local")
    site.grant("e2e-remote", "read", user="bob")
    site.grant("e2e-all", "deploy", user="alice")
    site.grant("e2e-all", "read", user="bob")

    # Through the remote: files are fetched from the upstream once and kept.
    remote_url = with_credentials(simple(site, "e2e-remote"), "bob", PASSWORDS["bob"])
    venv = FreshVenv()
    result = venv.pip_install(remote_url, "gamma")
    assert result.returncode == 0, result.stdout + result.stderr
    assert venv.run("import gamma, delta; print(gamma.VERSION, delta.VERSION)") == "1.0 0.5"
    fetched = [hit for hit in upstream.hits if hit.startswith("/files/")]
    assert sorted(fetched) == ["/files/delta-0.5-py3-none-any.whl", "/files/gamma-1.0-py3-none-any.whl"]

    # An upload to the virtual lands in its deploy_to member.
    done = twine_upload(f"{site.url}/repository/e2e-all/", [make_wheel(dists["gamma"].parent.parent / "v", "zeta", "3.0")],
                        "alice", PASSWORDS["alice"])
    assert done.returncode == 0, done.stdout + done.stderr
    listing = site.api("GET", "repositories/e2e-local/packages/").json()
    names = [p["name"] for p in (listing["results"] if isinstance(listing, dict) else listing)]
    assert "zeta" in names

    # The virtual merges both; the local alpha-pkg 1.0 shadows the public 99.0 (dependency-confusion guard).
    virtual_url = with_credentials(simple(site, "e2e-all"), "bob", PASSWORDS["bob"])
    venv = FreshVenv()
    result = venv.pip_install(virtual_url, "alpha-pkg", "gamma", "zeta")
    assert result.returncode == 0, result.stdout + result.stderr
    assert venv.run("import alpha_pkg, gamma, zeta; print(alpha_pkg.VERSION, gamma.VERSION, zeta.VERSION)") == "1.0 1.0 3.0"

    # The upstream goes away: what was fetched keeps being served, through the remote and the virtual.
    upstream.stop()
    for url in (remote_url, virtual_url):
        venv = FreshVenv()
        result = venv.pip_install(url, "gamma")
        assert result.returncode == 0, result.stdout + result.stderr
        assert venv.run("import gamma; print(gamma.VERSION)") == "1.0"


def test_remote_metadata_refreshed_in_background_by_the_worker(site, tmp_path):
    """Past its TTL a remote's page is served at once from the cache while the Celery worker refreshes it."""
    root = tmp_path / "swr-upstream"
    write_simple_index(root, [make_wheel(tmp_path / "w", "swrpkg", "1.0")])
    upstream = StaticServer(root)
    try:
        site.create_repo("e2e-swr", "pypi", "remote", upstream_url=upstream.url + "/simple/", metadata_ttl=1,
                         anonymous_read=True)
        page = f"{site.url}/repository/e2e-swr/simple/swrpkg/"
        assert "swrpkg-1.0-" in requests.get(page).text
        write_simple_index(root, [make_wheel(tmp_path / "w", "swrpkg", "1.0"), make_wheel(tmp_path / "w", "swrpkg", "2.0")])
        time.sleep(1.5)
        stale = requests.get(page)
        assert stale.status_code == 200 and "swrpkg-2.0-" not in stale.text  # answered from the cache
        deadline = time.monotonic() + 30
        while "swrpkg-2.0-" not in requests.get(page).text:
            assert time.monotonic() < deadline, "the worker never refreshed the page:\n" + site.log()[-3000:]
            time.sleep(0.5)
    finally:
        upstream.stop()


def test_concurrent_misses_fetch_once_from_the_upstream(site, tmp_path):
    """Many clients missing the same page and file at once, across gunicorn processes: one upstream fetch each."""
    root = tmp_path / "slow-upstream"
    wheel = make_wheel(tmp_path / "w", "crowdpkg", "1.0", payload_bytes=200_000)
    write_simple_index(root, [wheel])
    upstream = StaticServer(root, delay=0.5)
    try:
        site.create_repo("e2e-crowd", "pypi", "remote", upstream_url=upstream.url + "/simple/", metadata_ttl=3600,
                         anonymous_read=True)
        base = f"{site.url}/repository/e2e-crowd/"
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            pages = list(pool.map(lambda _: requests.get(base + "simple/crowdpkg/"), range(12)))
        assert all(p.status_code == 200 for p in pages), [p.status_code for p in pages]
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            files = list(pool.map(lambda _: requests.get(base + f"files/crowdpkg/{wheel.name}"), range(12)))
        assert all(f.status_code == 200 and f.content == wheel.read_bytes() for f in files)
        assert upstream.hits.count("/simple/crowdpkg/") == 1, upstream.hits
        assert upstream.hits.count(f"/files/{wheel.name}") == 1, upstream.hits
    finally:
        upstream.stop()
