"""The `packyard` command: serve, worker, manage (CONTRACT.md, "Install and run").

`serve` runs gunicorn (WSGI, so files go out with sendfile) and, unless --no-worker, a Celery
worker with the beat scheduler embedded. Both are child processes; SIGTERM/SIGINT stops them all.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from packyard import __version__


def _setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "packyard.settings")
    import django

    django.setup()


def _prepare():
    """Migrate the database and create the bootstrap admin: done once, before any child starts."""
    _setup_django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("bootstrap")


def _worker_cmd(beat: bool, concurrency: int | None) -> list[str]:
    cmd = [sys.executable, "-m", "celery", "-A", "packyard", "worker", "--loglevel", "INFO"]
    if beat:
        from django.conf import settings

        cmd += ["-B", "--schedule", str(settings.PACKYARD_HOME / "celerybeat-schedule")]
    if concurrency:
        cmd += ["--concurrency", str(concurrency)]
    return cmd


def _supervise(cmds: list[list[str]]) -> int:
    """Run the children until one exits or we are told to stop; then stop them all.

    Each child leads its own process group: a terminal's Ctrl-C reaches only us, so shutdown
    happens once and in order, and a child that ignores SIGTERM is killed with its whole group
    (e.g. Celery's pool processes), leaving no orphans.
    """
    stopping = False

    def stop(signum, _frame):
        nonlocal stopping
        stopping = True

    # Handlers first: a SIGTERM that lands while children start must still stop them.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children: list[subprocess.Popen] = []
    code = 0
    try:
        for cmd in cmds:
            if stopping:
                break
            children.append(subprocess.Popen(cmd, process_group=0))
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    code = child.returncode or 0
                    stopping = True
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for child in children:
            # Whatever is left in a child's group (stuck leader, or helpers it left) is killed.
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            child.wait()
    return code


def _gunicorn_version() -> tuple[int, ...]:
    import gunicorn

    return tuple(gunicorn.version_info)


def cmd_serve(args) -> int:
    _prepare()
    web = [
        sys.executable, "-m", "gunicorn", "packyard.wsgi:application",
        "--bind", args.bind,
        "--workers", str(args.workers),
        "--worker-class", "gthread",
        "--threads", str(args.threads),
        "--timeout", "300",
        "--graceful-timeout", "10",
        "--access-logfile", "-",
    ]
    if _gunicorn_version() >= (27,):
        # Its control socket defaults to one path per user ($HOME/.gunicorn/gunicorn.ctl), which
        # several servers on one machine would fight over; nothing of ours uses it.
        web.append("--no-control-socket")
    if os.path.isdir("/dev/shm"):
        # Each worker touches its heartbeat file on every request; on a disk-backed /tmp that
        # metadata write was a tenth of a small request's time (gunicorn's docs advise /dev/shm).
        web += ["--worker-tmp-dir", "/dev/shm"]
    cmds = [web]
    if not args.no_worker:
        cmds.append(_worker_cmd(beat=True, concurrency=2))
    return _supervise(cmds)


def cmd_worker(args) -> int:
    _prepare()
    return _supervise([_worker_cmd(beat=args.beat, concurrency=args.concurrency)])


def cmd_manage(args) -> int:
    _setup_django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["packyard manage", *args.args])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="packyard", description="Packyard artifact repository manager.")
    parser.add_argument("--version", action="version", version=f"packyard {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate, then run the web server and the background worker")
    serve.add_argument("--bind", default="127.0.0.1:8080", help="HOST:PORT to listen on (default 127.0.0.1:8080)")
    serve.add_argument("--workers", type=int, default=2, help="web worker processes (default 2)")
    serve.add_argument("--threads", type=int, default=8, help="threads per web worker (default 8)")
    serve.add_argument("--no-worker", action="store_true", help="do not start the task worker and scheduler")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run only a background task worker")
    worker.add_argument("--beat", action="store_true", help="also run the periodic task scheduler")
    worker.add_argument("--concurrency", type=int, default=None, help="task processes (default: CPU count)")
    worker.set_defaults(func=cmd_worker)

    manage = sub.add_parser("manage", help="run a Django management command, e.g. `packyard manage gc --dry-run`",
                            add_help=False)
    manage.add_argument("args", nargs=argparse.REMAINDER)
    manage.set_defaults(func=cmd_manage)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["manage"]:
        # Everything after `manage` belongs to Django, `--help` included.
        return cmd_manage(argparse.Namespace(args=argv[1:]))
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
