"""npm benchmarks, in one run (issue 3's targets in brackets):

1. `npm install` of a project with 120 dependencies (360 synthetic package versions), cold npm cache,
   warm server cache, through Packyard (a local repository, and a virtual over it) and through
   Verdaccio 6.8.0 serving the same packages [Packyard at or below Verdaccio's time];
2. packument requests for a package with 3,000 versions, full and abbreviated, from a local
   repository and from a remote one proxying a static registry [p50 under 20 ms].

Run: `make bench-npm` (or `python benchmarks/npm.py [--quick]`). Needs no internet except npm's
registry once, to install Verdaccio (with node-fetch overridden to 2.7.0) into a temp folder;
every package is generated here and published to both servers with the request `npm publish` sends.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.npmdata import PackageSet, big_packument, publish_doc  # noqa: E402
from benchmarks.verdaccio import Verdaccio  # noqa: E402
from tests.servers import PackyardServer, StaticServer  # noqa: E402


def packyard_token(registry: str, user: str, password: str) -> str:
    response = requests.put(f"{registry}-/user/org.couchdb.user:{user}", json={"name": user, "password": password},
                            timeout=30)
    response.raise_for_status()
    return response.json()["token"]


def publish_all(registry: str, token: str, docs: list[dict], threads: int = 4) -> float:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    def put(doc):
        response = session.put(registry + doc["name"].replace("/", "%2f"), data=json.dumps(doc),
                               headers={"Content-Type": "application/json"}, timeout=120)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"publish of {doc['name']} to {registry} failed: {response.status_code} {response.text}")

    start = time.perf_counter()
    # Versions of one package go in order (as a team publishes them); different packages in parallel.
    by_name: dict[str, list] = {}
    for doc in docs:
        by_name.setdefault(doc["name"], []).append(doc)
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda group: [put(d) for d in group], by_name.values()))
    return time.perf_counter() - start


def npm_install(registry: str, token: str, dependencies: dict, work: Path) -> float:
    """One `npm install` in a fresh project folder with an empty npm cache; answers seconds."""
    folder = Path(tempfile.mkdtemp(prefix="proj-", dir=work))
    (folder / "package.json").write_text(json.dumps({"name": "bench-app", "version": "1.0.0", "private": True,
                                                     "dependencies": dependencies}))
    host_path = registry.split("://", 1)[1]
    (folder / ".npmrc").write_text(f"registry={registry}\n//{host_path}:_authToken={token}\n")
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("npm_config_")}
    env.update({"HOME": str(folder), "npm_config_cache": str(folder / ".cache"),
                "npm_config_userconfig": str(folder / ".npmrc"), "npm_config_update_notifier": "false"})
    start = time.perf_counter()
    done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"npm install from {registry} failed:\n{done.stdout}\n{done.stderr}")
    installed = sum(1 for p in (folder / "node_modules").iterdir() if not p.name.startswith("."))
    shutil.rmtree(folder, ignore_errors=True)
    return elapsed if installed else float("nan")


def bench_install(server: PackyardServer, verdaccio: Verdaccio, work: Path, runs: int, packages: PackageSet) -> dict:
    server.create_repo("bench-npm", "npm")
    server.create_repo("bench-npm-all", "npm", "virtual", members=["bench-npm"], deploy_to="bench-npm")
    local = f"{server.url}/repository/bench-npm/"
    token = packyard_token(local, *server.admin)
    docs = packages.publish_docs()
    published = {"packyard": publish_all(local, token, docs), "verdaccio": publish_all(verdaccio.url + "/",
                                                                                       verdaccio.token, docs)}
    targets = {"packyard-local": (local, token), "packyard-virtual": (f"{server.url}/repository/bench-npm-all/", token),
               "verdaccio": (verdaccio.url + "/", verdaccio.token)}
    for registry, tok in targets.values():  # warm every server-side cache once
        npm_install(registry, tok, packages.project_dependencies(), work)
    times: dict[str, list[float]] = {k: [] for k in targets}
    for _ in range(runs):  # interleaved, so a noisy neighbour hurts every target alike
        for label, (registry, tok) in targets.items():
            times[label].append(npm_install(registry, tok, packages.project_dependencies(), work))
    result = {label: statistics.median(values) for label, values in times.items()}
    result.update({"runs": times, "publish_s": published, "versions": len(docs), "packages": packages.count})
    return result


def latency(url: str, headers: dict, n: int) -> dict:
    session = requests.Session()
    first = session.get(url, headers=headers, timeout=60)
    first.raise_for_status()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        response = session.get(url, headers=headers, timeout=60)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200 and len(response.content) == len(first.content)
    samples.sort()

    def client(_):
        s = requests.Session()
        for _ in range(n // 4):
            s.get(url, headers=headers, timeout=60).raise_for_status()

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(client, range(4)))
    return {"bytes": len(first.content), "p50_ms": samples[len(samples) // 2],
            "p95_ms": samples[int(len(samples) * 0.95)], "sequential_rps": 1000 / statistics.mean(samples),
            "concurrent4_rps": (n // 4) * 4 / (time.perf_counter() - start)}


def bench_packument(server: PackyardServer, work: Path, versions: int, n: int) -> dict:
    server.create_repo("bench-big", "npm")
    local = f"{server.url}/repository/bench-big/"
    token = packyard_token(local, *server.admin)
    docs = [publish_doc("big-local", f"{i // 100}.{i % 100}.0", payload_kib=1) for i in range(versions)]
    publish_s = publish_all(local, token, docs, threads=1)
    folder = work / "static-registry"
    folder.mkdir()
    static = StaticServer(folder)
    try:
        (folder / "big-remote").write_text(json.dumps(big_packument("big-remote", static.url, versions)))
        server.create_repo("bench-big-remote", "npm", "remote", upstream_url=static.url + "/", metadata_ttl=86400)
        auth = {"Authorization": f"Bearer {token}"}
        corgi = {**auth, "Accept": "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"}
        out = {"publish_s": publish_s, "versions": versions}
        for label, url in (("local", local + "big-local"), ("remote", f"{server.url}/repository/bench-big-remote/big-remote")):
            out[label] = {"full": latency(url, {**auth, "Accept": "application/json"}, n),
                          "abbreviated": latency(url, corgi, n)}
        return out
    finally:
        static.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--runs", type=int, default=3, help="installs per target (median reported)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="packyard-bench-npm-"))
    server = PackyardServer(workers=2)
    verdaccio = Verdaccio(work / "verdaccio")
    try:
        packages = PackageSet(40 if args.quick else 120)
        inst = bench_install(server, verdaccio, work, runs=1 if args.quick else args.runs, packages=packages)
        print(f"npm install, {inst['packages']} packages ({inst['versions']} versions published), cold npm cache, "
              f"warm server, median of {len(inst['runs']['verdaccio'])}: packyard local {inst['packyard-local']:.2f} s, "
              f"packyard virtual {inst['packyard-virtual']:.2f} s, verdaccio {inst['verdaccio']:.2f} s "
              f"(target packyard <= verdaccio); runs {inst['runs']}; publishing took {inst['publish_s']}")
        big = bench_packument(server, work, versions=500 if args.quick else 3000, n=100 if args.quick else 400)
        print(f"publishing {big['versions']} versions one by one: {big['publish_s']:.1f} s")
        for source in ("local", "remote"):
            for kind, r in big[source].items():
                print(f"packument, {big['versions']} versions, {source} {kind} ({r['bytes']} bytes): p50 {r['p50_ms']:.1f} ms, "
                      f"p95 {r['p95_ms']:.1f} ms (target p50 < 20), {r['sequential_rps']:.0f} req/s sequential, "
                      f"{r['concurrent4_rps']:.0f} req/s with 4 clients")
    finally:
        verdaccio.stop()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
