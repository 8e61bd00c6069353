"""Docker/OCI benchmark, in one run (issue 5's targets in brackets):

1. `skopeo copy` push and pull of an image with a 500 MiB layer (random, stored as a plain tar)
   and 20 small gzip layers, to and from Packyard and to and from the CNCF registry
   (docker-registry, filesystem storage in a temp folder) [Packyard at or below the registry's
   time, for push and for pull];
2. manifest GETs by tag, sequential and from 4 threads, Packyard with a Bearer token from
   /v2/token, the registry without auth [reported as a ratio to the registry].

Each run builds a new image (fresh random bytes) and pushes it under a new name: skopeo's blob
info cache (/var/lib/containers/cache for root) would otherwise mount layers it saw in an earlier
push instead of uploading them. Pulls go to a fresh `oci:` layout in a temp folder. Packyard and
registry runs are interleaved, the order alternating, so load from elsewhere on the machine (and
the page cache) treat both alike; each timed copy starts after a sync(), so no writeback left by
an earlier step (the registry does not fsync what it stores) lands in it. Medians of N.

Run: `make bench-docker` (or `python benchmarks/docker.py [--runs N] [--big-mib M]`).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.ociimage import write_big_image  # noqa: E402
from tests.e2e.test_docker import Registry, skopeo  # noqa: E402
from tests.ociimages import OCI_MANIFEST  # noqa: E402
from tests.servers import ADMIN_PASSWORD, PackyardServer  # noqa: E402

REPO = "bench-docker"
CREDS = f"admin:{ADMIN_PASSWORD}"


def timed_skopeo(*args: str) -> float:
    # Start every timed copy with no dirty pages left by an earlier step: the registry does not
    # fsync what it stores, so its writeback otherwise lands in whatever is timed next.
    os.sync()
    start = time.perf_counter()
    done = skopeo(*args, timeout=1800)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"skopeo {' '.join(args)} failed: {done.stderr}")
    return elapsed


def manifest_rate(url: str, headers: dict, total: int, threads: int) -> float:
    """Manifest GETs per second over `total` requests, from `threads` keep-alive sessions."""

    def worker(n):
        session = requests.Session()
        session.headers.update(headers)
        for _ in range(n):
            response = session.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:200]}")

    worker(5)  # warm-up (connections, caches)
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, [total // threads] * threads))
    return (total // threads) * threads / (time.perf_counter() - start)


def bench(work: Path, runs: int, big_mib: int, small_layers: int, requests_n: int) -> dict:
    server = PackyardServer(workers=2)
    registry = Registry()
    try:
        server.create_repo(REPO, "docker")
        packyard_host, registry_host = f"127.0.0.1:{server.port}", f"127.0.0.1:{registry.port}"
        times = {key: [] for key in ("packyard_push", "registry_push", "packyard_pull", "registry_pull")}
        for i in range(runs):
            layout = write_big_image(work / f"layout-{i}", "bench", big_mib, small_layers)
            sides = [("packyard", packyard_host, ("--dest-creds", CREDS)), ("registry", registry_host, ())]
            for side, host, creds in sides if i % 2 == 0 else reversed(sides):
                prefix = f"{REPO}/" if side == "packyard" else ""
                ref = f"docker://{host}/{prefix}big-{i}:1"
                times[f"{side}_push"].append(timed_skopeo("copy", *creds, "--dest-tls-verify=false",
                                                          f"oci:{layout}:bench", ref))
                pulled = work / f"pull-{side}-{i}"
                src_creds = ("--src-creds", CREDS) if creds else ()
                times[f"{side}_pull"].append(timed_skopeo("copy", *src_creds, "--src-tls-verify=false", ref,
                                                          f"oci:{pulled}:bench"))
                shutil.rmtree(pulled)
            shutil.rmtree(layout)
        result = {key: statistics.median(value) for key, value in times.items()}
        result["all"] = times

        token = requests.get(f"{server.url}/v2/token", params={"service": "packyard", "scope": f"repository:{REPO}/big-0:pull"},
                             auth=("admin", ADMIN_PASSWORD), timeout=30).json()["token"]
        accept = {"Accept": OCI_MANIFEST}
        targets = {"packyard": (f"{server.url}/v2/{REPO}/big-0/manifests/1", {**accept, "Authorization": f"Bearer {token}"}),
                   "registry": (f"{registry.url}/v2/big-0/manifests/1", accept)}
        for threads in (1, 4):
            for side, (url, headers) in targets.items():
                result[f"{side}_manifest_rps_{threads}"] = manifest_rate(url, headers, requests_n, threads)
        return result
    finally:
        server.stop()
        registry.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="pushes and pulls per server (median reported)")
    parser.add_argument("--big-mib", type=int, default=500, help="size of the big layer")
    parser.add_argument("--requests", type=int, default=1000, help="manifest GETs per measurement")
    args = parser.parse_args()
    missing = [tool for tool in ("skopeo", "docker-registry") if not shutil.which(tool)]
    if missing:
        print(f"docker: {', '.join(missing)} not installed, skipped")
        return 0
    work = Path(tempfile.mkdtemp(prefix="packyard-bench-docker-"))
    try:
        r = bench(work, args.runs, args.big_mib, 20, args.requests)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def each(key):
        return ", ".join(f"{t:.2f}" for t in r["all"][key])

    for op in ("push", "pull"):
        p, g = r[f"packyard_{op}"], r[f"registry_{op}"]
        print(f"docker skopeo {op} of a {args.big_mib} MiB layer + 20 small (median of {args.runs}): packyard {p:.2f} s "
              f"[{each(f'packyard_{op}')}], docker-registry {g:.2f} s [{each(f'registry_{op}')}], "
              f"ratio {p / g:.2f}x the time (target <= 1.0)")
    for threads in (1, 4):
        p, g = r[f"packyard_manifest_rps_{threads}"], r[f"registry_manifest_rps_{threads}"]
        label = "sequential" if threads == 1 else f"{threads} threads"
        print(f"docker manifest GET by tag, {label}: packyard {p:.0f} req/s (Bearer token), docker-registry {g:.0f} req/s "
              f"(no auth), ratio {p / g:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
