"""Bounded mixed load against the production server, with each endpoint beside its floor.

    python bench/load.py --database sqlite [--seconds 5] [--connections 4]

Needs the data set (bench/generate.py) and wrk (Debian package `wrk`). Starts the
production server of `make serve` (gunicorn with one uvicorn worker, access log off) on
loopback with the benchmark's settings (bench/settings.py: the project's, plus the raw-SQL
floor views of bench/floors.py), then for each endpoint
runs wrk against the API and against its floor, back to back, and prints requests/s, p50
and p99 latency
and the API's throughput as a ratio of its floor. Also prints the two scaling ratios the
targets name. Results go to bench/data/results-<database>.json.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
sys.path.insert(0, str(ROOT))
from bench.generate import database_url  # noqa: E402
from scripts.liveserver import free_port, production_env, start_server, stop  # noqa: E402

# The limits stay on (their cost is part of a request) but never bite. Per second: DRF's
# throttle keeps every request's time inside its window, so a per-minute window at
# benchmark rates would hold tens of thousands of entries per user and pickle them on every
# post; a real 60/minute limit holds at most 60.
UNBITING_RATE = "100000000/second"


def call(base: str, method: str, path: str, body=None, token=None) -> dict:
    request = urllib.request.Request(
        base + path, data=None if body is None else json.dumps(body).encode(), method=method
    )
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def wrk(
    url: str, method: str, body: str | None, headers: dict, seconds: int, connections: int
) -> dict:
    """Run wrk; return requests/s, p50 and p99 in milliseconds, and non-2xx count."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "{method}"\n')
        if body is not None:
            script.write(f"wrk.body = {json.dumps(body)}\n")
        for name, value in headers.items():
            script.write(f'wrk.headers["{name}"] = "{value}"\n')
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)

    def millis(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": millis("50"),
        "p99": millis("99"),
        "errors": int(bad.group(1)) if bad else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=4)
    # One server process: uvicorn workers keep each of wrk's keep-alive connections on the
    # process that accepted it, so with two processes and four connections the split
    # (2:2, 3:1 or 4:0) changed throughput by up to 2x from run to run.
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    meta = json.loads((DATA / f"{args.database}.json").read_text())

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = production_env(
        DATABASE_URL=database_url(args.database),
        THROTTLE_AUTH_RATE=UNBITING_RATE,
        THROTTLE_MESSAGE_POST_RATE=UNBITING_RATE,
        THROTTLE_WRITE_RATE=UNBITING_RATE,
        DJANGO_SETTINGS_MODULE="bench.settings",
        DJANGO_LOG_LEVEL="ERROR",
        GUNICORN_ACCESSLOG="",
    )
    collect = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"]
    subprocess.run(collect, cwd=ROOT, env=env, check=True)
    server = start_server(env, port=port, workers=args.workers)
    try:
        password = meta["password"]
        token, me = {}, {}
        for role in ("heavy", "light"):
            name = meta[f"{role}_user"]
            token[role] = call(
                base, "POST", "/api/token/", {"username": name, "password": password}
            )["access"]
            me[role] = call(base, "GET", "/api/user/me/", token=token[role])["id"]
        big = meta["big_thread"]
        # A thread of heavy's other than the big one, to post into and mark read.
        other = call(base, "GET", "/api/threads/?limit=2", token=token["heavy"])["results"]
        post_thread = next(row["id"] for row in other if row["id"] != big)

        def auth(role):
            return {"Authorization": f"Bearer {token[role]}", "Content-Type": "application/json"}

        endpoints = [
            (
                "thread list, heavy user (5,000 threads)",
                "GET",
                "/api/threads/",
                None,
                auth("heavy"),
                f"/bench-floor/threads/?user={me['heavy']}",
                None,
            ),
            (
                "thread list, light user (5 threads)",
                "GET",
                "/api/threads/",
                None,
                auth("light"),
                f"/bench-floor/threads/?user={me['light']}",
                None,
            ),
            (
                "messages, first page (200,000-message thread)",
                "GET",
                f"/api/threads/{big}/messages/",
                None,
                auth("heavy"),
                f"/bench-floor/messages/?thread={big}",
                None,
            ),
            (
                "messages, deep page (before=, 199,000 deep)",
                "GET",
                f"/api/threads/{big}/messages/?before={meta['deep_before']}",
                None,
                auth("heavy"),
                f"/bench-floor/messages/?thread={big}&before={meta['deep_before']}",
                None,
            ),
            (
                "post a message",
                "POST",
                f"/api/threads/{post_thread}/messages",
                '{"text": "hello from the benchmark"}',
                auth("heavy"),
                f"/bench-floor/post/?thread={post_thread}&sender={me['heavy']}",
                "hello from the benchmark",
            ),
            (
                "unread total",
                "GET",
                "/api/threads/unread_count/",
                None,
                auth("heavy"),
                f"/bench-floor/unread/?user={me['heavy']}",
                None,
            ),
            # What clients do on every thread they open: mark it read, mostly with nothing
            # new (the big thread has nothing unread for heavy). The floor runs its UPDATE.
            (
                "mark_read, nothing new",
                "PATCH",
                f"/api/threads/{big}/mark_read",
                "{}",
                auth("heavy"),
                f"/bench-floor/mark_read/?thread={big}&user={me['heavy']}",
                None,
            ),
        ]

        results = []
        print(
            f"{args.database}: {args.workers} uvicorn worker(s) under gunicorn, wrk 1 thread x "
            f"{args.connections} connections, {args.seconds} s per run",
            flush=True,
        )
        for name, method, path, body, headers, floor_path, floor_body in endpoints:
            wrk(base + path, method, body, headers, 1, args.connections)  # warm up
            api = wrk(base + path, method, body, headers, args.seconds, args.connections)
            floor = wrk(
                base + floor_path,
                "POST" if floor_body or method == "PATCH" else "GET",
                floor_body,
                {},
                args.seconds,
                args.connections,
            )
            ratio = api["rps"] / floor["rps"]
            results.append({"endpoint": name, "api": api, "floor": floor, "ratio": round(ratio, 2)})
            line = (
                f"  {name:48} api {api['rps']:7.0f}/s p50 {api['p50']:6.2f} ms "
                f"p99 {api['p99']:6.2f} ms | floor {floor['rps']:7.0f}/s "
                f"p50 {floor['p50']:6.2f} ms p99 {floor['p99']:6.2f} ms | ratio {ratio:.2f}"
            )
            if api["errors"] or floor["errors"]:
                line += f"  NON-2XX api {api['errors']} floor {floor['errors']}"
            print(line, flush=True)
        by_name = {r["endpoint"]: r for r in results}
        deep = by_name["messages, deep page (before=, 199,000 deep)"]["api"]["rps"]
        first = by_name["messages, first page (200,000-message thread)"]["api"]["rps"]
        heavy = by_name["thread list, heavy user (5,000 threads)"]["api"]["rps"]
        light = by_name["thread list, light user (5 threads)"]["api"]["rps"]
        scaling = {
            "deep page time / first page time": round(deep and first / deep, 2),
            "heavy / light thread list time": round(heavy and light / heavy, 2),
        }
        deep_ratio = scaling["deep page time / first page time"]
        heavy_ratio = scaling["heavy / light thread list time"]
        print(
            f"  deep page takes {deep_ratio}x the first page's time; "
            f"the 5,000-thread list takes {heavy_ratio}x the 5-thread list's"
        )
        (DATA / f"results-{args.database}.json").write_text(
            json.dumps({"meta": meta, "results": results, "scaling": scaling}, indent=2)
        )
    finally:
        stop(server)


if __name__ == "__main__":
    main()
