"""Maven benchmark (issue 4's target in brackets): the consumer build's dependency resolution with
an empty local repository, through Packyard and straight from nginx over the same files
[Packyard's time at most 1.2x nginx's].

Setup: a copy of ~/.m2/repository (hard links) holds every plugin and dependency; the e2e
`greeter` library is deployed into it (file://), so the consumer's own dependency is there too.
nginx serves that folder. Packyard gets a virtual `bench-maven` = [a local release repository,
a remote proxying that nginx], read by a user with a password (as a team's settings.xml would).
The server cache is filled by one build first; then each timed build starts from a fresh
`-Dmaven.repo.local`, Packyard and nginx runs interleaved so load from elsewhere hits both alike.

`mvn package` of the consumer is timed (median of N): it resolves every plugin of the jar lifecycle
with its dependencies, and the project's dependency. To show the resolution share alone, the same
build is also timed offline (`-o`) against an already filled local repository: what the build costs
with no server at all; subtracting it from each server's time leaves the time spent resolving.
(maven-dependency-plugin's go-offline would resolve without building, but no version of it in the
warm ~/.m2 has all its dependencies.)

Run: `make bench-maven` (or `python benchmarks/maven.py [--runs N]`).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.nginx import Nginx  # noqa: E402
from tests.e2e.maven_projects import consumer, copy_m2, library, mvn, settings_xml  # noqa: E402
from tests.servers import PackyardServer  # noqa: E402

USER, PASSWORD = "bench-maven", "bench-maven-pw"


def run_build(project: Path, settings: Path, work: Path, local: Path | None = None, *extra: str) -> float:
    """Seconds for `mvn package`, with a fresh empty local repository unless one is given (kept then)."""
    fresh = local is None
    local = local or Path(tempfile.mkdtemp(prefix="m2-local-", dir=work))
    try:
        start = time.perf_counter()
        done = mvn(project, settings, *extra, "package", local_repo=local)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"mvn package failed:\n{done.stdout[-4000:]}{done.stderr[-2000:]}")
        return elapsed
    finally:
        if fresh:
            shutil.rmtree(local, ignore_errors=True)
        shutil.rmtree(project / "target", ignore_errors=True)


def bench(runs: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="packyard-bench-maven-"))
    upstream = copy_m2(work / "repository")
    nginx = Nginx(upstream)
    server = None
    try:
        static_settings = settings_xml(work / "static.xml", nginx.url + "/", {})
        greeter = library(work / "lib", "1.0.0", "http://unused", "http://unused")
        deployed = mvn(greeter, static_settings, "deploy", f"-DaltDeploymentRepository=bench::file://{upstream}",
                       local_repo=work / "deploy-local")
        if deployed.returncode != 0:
            raise RuntimeError("deploying greeter into the upstream folder failed:\n" + deployed.stdout[-4000:])

        server = PackyardServer(workers=2)
        server.create_user(USER, PASSWORD)
        server.create_repo("bench-central", "maven", kind="remote", upstream_url=nginx.url + "/", metadata_ttl=3600)
        server.create_repo("bench-releases", "maven", maven={"version_policy": "release"})
        server.create_repo("bench-maven", "maven", kind="virtual", members=["bench-releases", "bench-central"])
        server.grant("bench-maven", "read", user=USER)
        packyard_settings = settings_xml(work / "packyard.xml", f"{server.url}/repository/bench-maven/",
                                         {"packyard": (USER, PASSWORD)})
        # Like nginx, no authentication at all: a virtual anyone may read over the same members.
        server.create_repo("bench-open", "maven", kind="virtual", members=["bench-releases", "bench-central"],
                           anonymous_read=True)
        open_settings = settings_xml(work / "open.xml", f"{server.url}/repository/bench-open/", {})
        # The password, sent with every request as docs/formats/maven.md recommends (no 401 round trips).
        eager_settings = settings_xml(work / "eager.xml", f"{server.url}/repository/bench-maven/",
                                      {"packyard": (USER, PASSWORD)}, preemptive=True)

        project = consumer(work, "1.0.0")
        run_build(project, packyard_settings, work)  # fills Packyard's cache (and the OS page cache)
        run_build(project, open_settings, work)
        filled = work / "filled-local"
        run_build(project, static_settings, work, filled)
        requests_per_build = server.log().count('"GET /repository/bench-maven/')
        mark = len(server.log())
        run_build(project, eager_settings, work)
        eager_requests = server.log()[mark:].count('"GET /repository/bench-maven/')
        p_times, a_times, e_times, n_times, o_times = [], [], [], [], []
        for _ in range(runs):
            p_times.append(run_build(project, packyard_settings, work))
            a_times.append(run_build(project, open_settings, work))
            e_times.append(run_build(project, eager_settings, work))
            n_times.append(run_build(project, static_settings, work))
            o_times.append(run_build(project, static_settings, work, filled, "-o"))
        p, n, o = statistics.median(p_times), statistics.median(n_times), statistics.median(o_times)
        a, e = statistics.median(a_times), statistics.median(e_times)
        return {"eager_s": e, "eager_ratio": e / n, "eager_all": e_times, "eager_requests": eager_requests,"packyard_s": p, "nginx_s": n, "offline_s": o, "ratio": p / n, "open_s": a, "open_ratio": a / n,
                "open_all": a_times,
                "resolution_ratio": (p - o) / (n - o), "packyard_all": p_times, "nginx_all": n_times,
                "offline_all": o_times, "requests_per_build": requests_per_build}
    finally:
        if server is not None:
            server.stop()
        nginx.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed builds per server and goal (median reported)")
    args = parser.parse_args()
    if subprocess.run(["mvn", "-v"], capture_output=True).returncode != 0:
        print("maven: mvn is not installed, skipped")
        return 0
    r = bench(args.runs)

    def each(times):
        return ", ".join(f"{t:.2f}" for t in times)

    print(f"maven package of the consumer, empty local repository (median of {args.runs}): packyard virtual "
          f"{r['packyard_s']:.2f} s [{each(r['packyard_all'])}], nginx {r['nginx_s']:.2f} s [{each(r['nginx_all'])}], "
          f"ratio {r['ratio']:.2f}x (target <= 1.2)")
    print(f"maven: the same through a virtual with anonymous read, no credentials (as nginx): {r['open_s']:.2f} s "
          f"[{each(r['open_all'])}], ratio {r['open_ratio']:.2f}x")
    print(f"maven: the same with the password sent preemptively (docs/formats/maven.md), {r['eager_requests']} GETs: "
          f"{r['eager_s']:.2f} s [{each(r['eager_all'])}], ratio {r['eager_ratio']:.2f}x")
    print(f"maven: the same build offline from a filled local repository {r['offline_s']:.2f} s [{each(r['offline_all'])}]; "
          f"resolution alone: packyard {r['packyard_s'] - r['offline_s']:.2f} s, nginx {r['nginx_s'] - r['offline_s']:.2f} s, "
          f"ratio {r['resolution_ratio']:.2f}x; {r['requests_per_build']} GETs per build")
    return 0


if __name__ == "__main__":
    sys.exit(main())
