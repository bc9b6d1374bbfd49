"""Starting the production server for the checks and benchmarks (scripts/, bench/): the
same `make serve` server (gunicorn.conf.py: uvicorn workers, chat_project.asgi) on a free
loopback port, with production settings and a throwaway secret key."""

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


class ServerFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def production_env(**settings: str) -> dict:
    """The environment of a production server (debug off) on plain-HTTP loopback, plus
    `settings` (DATABASE_URL, rate limits, ...)."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "chat_project.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "live-" + secrets.token_urlsafe(50),
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        **settings,
    }


def migrate(env: dict) -> None:
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)


def start_server(
    env: dict, *, port: int, workers: int = 1, log: Path | None = None, args: tuple = ()
) -> subprocess.Popen:
    """Start gunicorn with `workers` processes on `port` and wait until it accepts
    connections (30 s at most). Its output goes to `log` (discarded without one)."""
    command = [PYTHON, "-m", "gunicorn", "--workers", str(workers)]
    command += ["--bind", f"127.0.0.1:{port}", *args]
    output = log.open("w") if log else subprocess.DEVNULL
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    wait_until_listening(server, port, log)
    return server


def wait_until_listening(server: subprocess.Popen, port: int, log: Path | None = None) -> None:
    """Wait until `server` accepts connections on `port` (30 s at most)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            if server.poll() is not None:
                tail = log.read_text()[-2000:] if log else ""
                raise ServerFailed(f"the server exited: {tail}") from None
            time.sleep(0.2)
    server.kill()
    raise ServerFailed("the server did not start within 30 s")


def stop(server: subprocess.Popen | None) -> None:
    if server is None or server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


@contextmanager
def throwaway_database(kind: str, work: Path, name: str) -> Iterator[str]:
    """The DATABASE_URL of a fresh database for the block: an SQLite file in `work`, or a
    PostgreSQL database on 127.0.0.1:5432 created for it and dropped after it."""
    if kind != "postgres":
        yield f"sqlite:///{work / 'db.sqlite3'}"
        return
    database = f"{name}_{os.getpid()}"
    where = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(["createdb", *where, database], check=True)
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{database}"
    finally:
        if "django" in sys.modules:
            from django.conf import settings

            if settings.configured:  # this process used it: let go before dropping it
                from django.db import connections

                connections.close_all()
        drop = ["dropdb", *where, "--if-exists", "--force", database]
        subprocess.run(drop, check=False)
