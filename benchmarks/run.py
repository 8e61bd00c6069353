"""Packyard benchmarks, in one run (issue targets in brackets):

1. download a 1 GiB file from Packyard and from nginx over the same file
   [Packyard >= 0.9x nginx's throughput; the web workers' memory does not grow with the file];
2. pip install of 20 wheels through a virtual repository vs the same wheels from nginx (static)
   [reported as a ratio];
3. simple-page requests for a project with 2,000 files [p50 under 20 ms].

Run: `make bench` (or `python benchmarks/run.py [--quick]`). Uses the embedded default unless
PACKYARD_DATABASE_URL / PACKYARD_REDIS_URL are set. Prints numbers and ratios.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.nginx import Nginx  # noqa: E402
from tests.e2e.clients import FreshVenv  # noqa: E402
from tests.pydists import make_wheel, write_simple_index  # noqa: E402
from tests.servers import PackyardServer  # noqa: E402

MIB = 1024 * 1024


def upload(server: PackyardServer, repo: str, path: Path, name: str, version: str) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(MIB), b""):
            digest.update(chunk)
    cmd = ["curl", "-sS", "-f", "-u", ":".join(server.admin), "-F", ":action=file_upload", "-F", "protocol_version=1",
           "-F", f"name={name}", "-F", f"version={version}", "-F", "filetype=bdist_wheel", "-F", "pyversion=py3",
           "-F", f"sha256_digest={digest.hexdigest()}", "-F", f"content=@{path};type=application/octet-stream",
           f"{server.url}/repository/{repo}/"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"upload of {path.name} failed: {done.stderr}")


def process_tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def web_rss(server: PackyardServer) -> int:
    pids = [p for p in process_tree(server.process.pid) if "gunicorn" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")]
    return sum(rss_kib(p) for p in pids)


def curl_time(url: str) -> float:
    out = subprocess.run(["curl", "-sS", "-f", "-o", "/dev/null", "-w", "%{time_total}", url],
                         check=True, capture_output=True, text=True).stdout
    return float(out)


def bench_download(server: PackyardServer, work: Path, size: int, runs: int) -> dict:
    folder = work / "big"
    folder.mkdir()
    big = folder / "bigfile-1.0-py3-none-any.whl"
    block = os.urandom(MIB)
    # A real wheel (the upload checks its METADATA) whose payload is stored uncompressed.
    with zipfile.ZipFile(big, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("bigfile-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: bigfile\nVersion: 1.0\n\n")
        zf.writestr("bigfile-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n")
        with zf.open("bigfile/payload.bin", "w", force_zip64=True) as payload:
            for _ in range(size // MIB):
                payload.write(block)
    size = big.stat().st_size
    server.create_repo("bench-files", "pypi", anonymous_read=True)
    upload(server, "bench-files", big, "bigfile", "1.0")
    nginx = Nginx(folder)
    try:
        packyard_url = f"{server.url}/repository/bench-files/files/bigfile/{big.name}"
        nginx_url = f"{nginx.url}/{big.name}"
        rss_before = web_rss(server)
        peak = [rss_before]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], web_rss(server))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        p_times = [curl_time(packyard_url) for _ in range(runs)]
        stop.set()
        sampler.join()
        n_times = [curl_time(nginx_url) for _ in range(runs)]
    finally:
        nginx.stop()
        big.unlink()
    p, n = min(p_times), min(n_times)
    return {
        "size_mib": round(size / MIB), "packyard_s": p, "nginx_s": n,
        "packyard_mib_s": size / MIB / p, "nginx_mib_s": size / MIB / n, "throughput_ratio": n / p,
        "web_rss_before_mib": rss_before / 1024, "web_rss_peak_mib": peak[0] / 1024,
    }


def bench_pip(server: PackyardServer, work: Path, runs: int) -> dict:
    upstream_root = work / "upstream"
    wheels = [make_wheel(work / "wheels", f"benchpkg-{i:02d}", "1.0", payload_bytes=256 * 1024) for i in range(20)]
    write_simple_index(upstream_root, wheels)
    nginx = Nginx(upstream_root)
    names = [f"benchpkg-{i:02d}" for i in range(20)]
    try:
        server.create_repo("bench-remote", "pypi", "remote", upstream_url=nginx.url + "/simple/", metadata_ttl=3600,
                           anonymous_read=True)
        server.create_repo("bench-local", "pypi", anonymous_read=True)
        server.create_repo("bench-all", "pypi", "virtual", members=["bench-local", "bench-remote"], anonymous_read=True)
        virtual = f"{server.url}/repository/bench-all/simple/"
        static = f"{nginx.url}/simple/"
        warm = FreshVenv().pip_install(virtual, *names)  # fills the server's cache
        assert warm.returncode == 0, warm.stdout + warm.stderr

        def timed(url):
            venv = FreshVenv()
            start = time.perf_counter()
            done = venv.pip_install(url, *names)
            assert done.returncode == 0, done.stdout + done.stderr
            return time.perf_counter() - start

        p_times = [timed(virtual) for _ in range(runs)]
        n_times = [timed(static) for _ in range(runs)]
    finally:
        nginx.stop()
    p, n = statistics.median(p_times), statistics.median(n_times)
    return {"packyard_virtual_s": p, "static_nginx_s": n, "time_ratio": p / n}


def bench_simple_page(server: PackyardServer, work: Path, files: int, requests_n: int) -> dict:
    server.create_repo("bench-many", "pypi", anonymous_read=True)
    folder = work / "many"
    wheels = [make_wheel(folder, "manyfiles", f"1.{i}") for i in range(files)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda w: upload(server, "bench-many", w, "manyfiles", w.name.split("-")[1]), wheels))
    url = f"{server.url}/repository/bench-many/simple/manyfiles/"
    results = {}
    for label, accept in (("json", "application/vnd.pypi.simple.v1+json"), ("html", "text/html")):
        session = requests.Session()
        first = session.get(url, headers={"Accept": accept})
        assert first.status_code == 200 and first.text.count("manyfiles-") >= files, first.status_code
        latencies = []
        for _ in range(requests_n):
            start = time.perf_counter()
            response = session.get(url, headers={"Accept": accept})
            latencies.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200
        latencies.sort()
        results[label] = {"p50_ms": latencies[len(latencies) // 2], "p95_ms": latencies[int(len(latencies) * 0.95)],
                          "sequential_rps": 1000 / statistics.mean(latencies), "bytes": len(first.content)}

        def worker(_):
            s = requests.Session()
            for _ in range(requests_n // 4):
                s.get(url, headers={"Accept": accept})

        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(worker, range(4)))
        results[label]["concurrent4_rps"] = (requests_n // 4) * 4 / (time.perf_counter() - start)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    size = 64 * MIB if args.quick else 1024 * MIB
    work = Path(tempfile.mkdtemp(prefix="packyard-bench-"))
    server = PackyardServer(workers=2)
    try:
        dl = bench_download(server, work, size, runs=1 if args.quick else 3)
        print(f"download {dl['size_mib']} MiB: packyard {dl['packyard_mib_s']:.0f} MiB/s, nginx {dl['nginx_mib_s']:.0f} MiB/s, "
              f"ratio {dl['throughput_ratio']:.2f}x (target >= 0.9); web RSS {dl['web_rss_before_mib']:.0f} -> "
              f"peak {dl['web_rss_peak_mib']:.0f} MiB")
        pip = bench_pip(server, work, runs=1 if args.quick else 3)
        print(f"pip install 20 wheels: virtual {pip['packyard_virtual_s']:.2f} s, static nginx {pip['static_nginx_s']:.2f} s, "
              f"ratio {pip['time_ratio']:.2f}x")
        page = bench_simple_page(server, work, files=200 if args.quick else 2000, requests_n=100 if args.quick else 400)
        for label, r in page.items():
            print(f"simple page ({label}, {r['bytes']} bytes): p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms "
                  f"(target p50 < 20), {r['sequential_rps']:.0f} req/s sequential, {r['concurrent4_rps']:.0f} req/s with 4 clients")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
