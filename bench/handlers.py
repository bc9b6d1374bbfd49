"""How the request handler in front of Django changes throughput, on the real server.

    python bench/handlers.py --database sqlite [--seconds 5]

Why chat_project/asgi.py serves HTTP through Django's WSGI handler on a thread pool
(a2wsgi) instead of Django's ASGI handler. One server process each, the same two
requests (the light user's unread total from its floor view in bench/floors.py: the
token decoded, one raw query, JSON; and the API's thread list of the same user), measured
with wrk in one run:

- gunicorn, one sync worker, `chat_project.wsgi` (no WebSockets: the REST-only option);
- gunicorn, one uvicorn worker, Django's ASGI handler (`bench/django_asgi.py`), which runs
  each request's synchronous parts on a thread of its own;
- gunicorn, one uvicorn worker, `chat_project.asgi` (what `make serve` runs).

Needs the data set (bench/generate.py) and wrk.
"""

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.load import DATA, bench_env, call, wrk  # noqa: E402
from scripts.liveserver import free_port, start_server, stop  # noqa: E402

SERVERS = [
    ("WSGI: gunicorn sync worker, chat_project.wsgi", "sync", "chat_project.wsgi:application"),
    (
        "ASGI: uvicorn worker, Django's ASGI handler",
        "chat_project.workers.UvicornWorker",
        "bench.django_asgi:application",
    ),
    (
        "ASGI: uvicorn worker, chat_project.asgi (make serve)",
        "chat_project.workers.UvicornWorker",
        "chat_project.asgi:application",
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    meta = json.loads((DATA / f"{args.database}.json").read_text())
    env = bench_env(args.database)
    print(f"{args.database}: one server process each, wrk 1 thread x 4 connections")
    for name, worker, app in SERVERS:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(env, port=port, args=("--worker-class", worker, app))
        try:
            token = call(
                base,
                "POST",
                "/api/token/",
                {"username": meta["light_user"], "password": meta["password"]},
            )["access"]
            auth = {"Authorization": f"Bearer {token}"}
            floor = wrk(f"{base}/bench-floor/unread/", "GET", None, auth, args.seconds, 4)
            api = wrk(base + "/api/threads/", "GET", None, auth, args.seconds, 4)
            print(
                f"  {name:54} floor {floor['rps']:6.0f}/s p50 {floor['p50']:5.2f} ms | "
                f"thread list {api['rps']:6.0f}/s p50 {api['p50']:5.2f} ms"
            )
        finally:
            stop(server)


if __name__ == "__main__":
    main()
