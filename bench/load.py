"""Each endpoint beside its floor, at the page sizes clients use, on the production server.

    python bench/load.py --database sqlite [--seconds 5] [--connections 4] [--workers 2]
                         [--limits 1,20,50,100] [--port 18200] [--only messages]

Needs the data set (bench/generate.py) and wrk (Debian package `wrk`). Starts the
production server of `make serve` (gunicorn with uvicorn workers, `chat_project.asgi`,
debug off, access log off; two workers by default, see below) on loopback with the
benchmark's settings (bench/settings.py: the project's, plus the floor views of
bench/floors.py), then for each endpoint runs wrk against the API and, right after,
against its floor, and prints requests/s, p50 and p99 latency, the servers' CPU time per
request, and the API's figures as ratios of its floor's: requests/s, and CPU time per
request (floor's / API's; a busy shared machine disturbs it less). `--rounds` repeats
each pair and takes the median. The paged reads (first message page, a deep `before=`
page, the thread list) run at each `--limits` page size.

Two workers, as `make serve` runs with WEB_CONCURRENCY=2, but as two servers of one
worker each (gunicorn with one uvicorn worker, on consecutive ports), each with its own
wrk and half the connections. A uvicorn worker keeps every keep-alive connection it
accepted, and which of two workers on one port accepts wrk's connections is a race: four
connections split 2:2, 3:1 or 4:0 (3:1 twenty times in a row in one run), and
throughput moved by up to 2x from run to run. One port per worker shares them out
evenly every time.

Then what requests cost against each other: per paged read, a 50-row page against a
1-row page (the API's, and the floor's), a deep page against the first, the heavy user's
thread list against the light user's; measured as an endpoint against its floor is
(alternating runs, medians), as the inverse ratio of their requests/s (the time the
saturated servers spend per request) and as the ratio of their CPU time per request.
Results go to bench/data/results-<database>.json.
"""

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
sys.path.insert(0, str(ROOT))
from bench.generate import database_url, postgres_name  # noqa: E402
from scripts.liveserver import free_port, migrate, production_env, start_server, stop  # noqa: E402

# The limits stay on (their cost is part of a request) but never bite. Per second: DRF's
# throttle keeps every request's time inside its window, so a per-minute window at
# benchmark rates would hold tens of thousands of entries per user and pickle them on every
# post; a real 60/minute limit holds at most 60.
UNBITING_RATE = "100000000/second"


def bench_env(database: str, **settings: str) -> dict:
    """The production server's environment with the benchmark's settings module (the
    floors mounted), limits that never bite, and no access log."""
    return production_env(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DATABASE_URL=database_url(database),
        THROTTLE_AUTH_RATE=UNBITING_RATE,
        THROTTLE_MESSAGE_POST_RATE=UNBITING_RATE,
        THROTTLE_WRITE_RATE=UNBITING_RATE,
        DJANGO_LOG_LEVEL="ERROR",
        GUNICORN_ACCESSLOG="",
        **settings,
    )


def call(base: str, method: str, path: str, body=None, token=None) -> dict:
    request = urllib.request.Request(
        base + path, data=None if body is None else json.dumps(body).encode(), method=method
    )
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def _script(method: str, body: str | None, headers: dict) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "{method}"\n')
        if body is not None:
            script.write(f"wrk.body = {json.dumps(body)}\n")
        for name, value in headers.items():
            script.write(f'wrk.headers["{name}"] = "{value}"\n')
    return script.name


def _parse(output: str) -> dict:
    def millis(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50": millis("50"),
        "p99": millis("99"),
        "errors": int(bad.group(1)) if bad else 0,
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
    }


def wrk(
    url: str, method: str, body: str | None, headers: dict, seconds: int, connections: int
) -> dict:
    """Run wrk; return requests/s, p50 and p99 in milliseconds, and non-2xx count."""
    script = _script(method, body, headers)
    try:
        output = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script)
    return _parse(output)


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes `pids` have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def postgres_backends(database: str) -> list[int]:
    """The server processes of the connections to the PostgreSQL database `database`."""
    output = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-Atc"]
        + [
            f"SELECT pid FROM pg_stat_activity WHERE datname = '{database}' "
            "AND pid <> pg_backend_pid()"
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [int(pid) for pid in output.split()]


class Server:
    """The running servers: `make serve`'s server, one worker each (see the module's
    docstring), and, on PostgreSQL, the database's backends serving them (their CPU time
    counts with the workers')."""

    def __init__(self, processes: list[subprocess.Popen], ports: list[int], postgres: str = ""):
        self.processes, self.ports, self.postgres = processes, ports, postgres
        self.base = f"http://127.0.0.1:{ports[0]}"
        self.workers = [
            int(pid)
            for process in processes
            for pid in Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        ]

    def wrk(
        self, path: str, method: str, body: str | None, headers: dict, seconds: int, conns: int
    ) -> dict:
        """One wrk per server at once, the connections shared out evenly: the requests/s
        of all of them, p50 the mean of theirs, p99 the highest, and the servers' CPU time
        per request (their workers', and on PostgreSQL their backends')."""
        if conns % len(self.ports):
            raise ValueError(f"{conns} connections do not share out over {len(self.ports)}")
        script = _script(method, body, headers)
        pids = self.workers + (postgres_backends(self.postgres) if self.postgres else [])
        try:
            cpu = cpu_seconds(pids)
            runs = [
                subprocess.Popen(
                    ["wrk", "-t1", f"-c{conns // len(self.ports)}", f"-d{seconds}s", "--latency"]
                    + ["-s", script, f"http://127.0.0.1:{port}{path}"],
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for port in self.ports
            ]
            results = [_parse(run.communicate()[0]) for run in runs]
            cpu = cpu_seconds(pids) - cpu
        finally:
            os.unlink(script)
        requests = sum(result["requests"] for result in results)
        return {
            "rps": sum(result["rps"] for result in results),
            "p50": statistics.mean(result["p50"] for result in results),
            "p99": max(result["p99"] for result in results),
            "errors": sum(result["errors"] for result in results),
            "requests": requests,
            "cpu_ms": round(cpu * 1000 / max(requests, 1), 3),
        }


def endpoints(server: Server, meta: dict, limits: list[int]) -> list[dict]:
    """The measured requests, each with its floor's, for the heavy user (5,000 threads;
    the 200,000-message thread is one of them)."""
    password = meta["password"]
    token = {}
    for role in ("heavy", "light"):
        name = meta[f"{role}_user"]
        login = {"username": name, "password": password}
        token[role] = call(server.base, "POST", "/api/token/", login)["access"]
    big = meta["big_thread"]
    deep = meta["deep_before"]
    # A thread of heavy's other than the big one, to post into.
    other = call(server.base, "GET", "/api/threads/?limit=2", token=token["heavy"])["results"]
    post_thread = next(row["id"] for row in other if row["id"] != big)

    def auth(role="heavy"):
        return {"Authorization": f"Bearer {token[role]}", "Content-Type": "application/json"}

    def get(name, group, limit, api, floor, role="heavy"):
        return {
            "endpoint": name,
            "group": group,
            "limit": limit,
            "method": "GET",
            "body": None,
            "headers": auth(role),
            "api": api,
            "floor": floor,
        }

    rows = []
    for limit in limits:
        rows.append(
            get(
                f"messages, first page, {limit} rows",
                "messages, first page",
                limit,
                f"/api/threads/{big}/messages/?limit={limit}",
                f"/bench-floor/threads/{big}/messages/?limit={limit}",
            )
        )
    for limit in limits:
        rows.append(
            get(
                f"messages, deep page (before=), {limit} rows",
                "messages, deep page",
                limit,
                f"/api/threads/{big}/messages/?before={deep}&limit={limit}",
                f"/bench-floor/threads/{big}/messages/?before={deep}&limit={limit}",
            )
        )
    for limit in limits:
        rows.append(
            get(
                f"thread list, {limit} rows",
                "thread list",
                limit,
                f"/api/threads/?limit={limit}",
                f"/bench-floor/threads/?limit={limit}",
            )
        )
    rows.append(
        get(
            "thread list, light user (5 threads)",
            "thread list, light user",
            20,
            "/api/threads/",
            "/bench-floor/threads/",
            role="light",
        )
    )
    body = '{"text": "hello from the benchmark"}'
    rows.append(
        {
            **get(
                "post a message",
                "post",
                None,
                f"/api/threads/{post_thread}/messages",
                f"/bench-floor/threads/{post_thread}/post/",
            ),
            "method": "POST",
            "body": body,
        }
    )
    rows.append(
        get(
            "unread total",
            "unread total",
            None,
            "/api/threads/unread_count/",
            "/bench-floor/unread/",
        )
    )
    # What clients send on opening a thread they have read: the big thread has nothing
    # unread for heavy. The floor runs its UPDATE, which matches no row.
    rows.append(
        {
            **get(
                "mark_read, nothing new",
                "mark_read",
                None,
                f"/api/threads/{big}/mark_read",
                f"/bench-floor/threads/{big}/mark_read/",
            ),
            "method": "PATCH",
            "body": "{}",
        }
    )
    return rows


def measure(server: Server, row: dict, seconds: int, conns: int, rounds: int) -> dict:
    """The API then its floor, `rounds` times. Two ratios of the API to its floor: of
    their requests/s, and of the server CPU time per request (floor's / API's), each the
    median of the rounds; the runs shown are the round of the median throughput ratio."""
    run = row["method"], row["body"], row["headers"]
    server.wrk(row["api"], *run, 1, conns)  # warm up
    server.wrk(row["floor"], *run, 1, conns)
    api, floor, ratios, cpu_ratios = [], [], [], []
    for _ in range(rounds):
        api.append(server.wrk(row["api"], *run, seconds, conns))
        floor.append(server.wrk(row["floor"], *run, seconds, conns))
        ratios.append(api[-1]["rps"] / floor[-1]["rps"])
        cpu_ratios.append(floor[-1]["cpu_ms"] / api[-1]["cpu_ms"])
    middle = ratios.index(statistics.median_low(ratios))
    return {
        "endpoint": row["endpoint"],
        "group": row["group"],
        "limit": row["limit"],
        "api": api[middle],
        "floor": floor[middle],
        "ratio": round(ratios[middle], 2),
        "cpu_ratio": round(statistics.median(cpu_ratios), 2),
        "ratios": [round(ratio, 2) for ratio in ratios],
        "cpu_ratios": [round(ratio, 2) for ratio in cpu_ratios],
        "api_cpu_ms": statistics.median(run["cpu_ms"] for run in api),
        "floor_cpu_ms": statistics.median(run["cpu_ms"] for run in floor),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="API/floor pairs per endpoint")
    parser.add_argument("--limits", default="1,20,50,100", help="page sizes of the paged reads")
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="the first server's port, the next ones follow (default: any free ports)",
    )
    parser.add_argument("--only", default="", help="only endpoints whose name contains this")
    parser.add_argument("--output", default="", help="default: bench/data/results-<db>.json")
    parser.add_argument("--costs-only", action="store_true", help="skip the endpoint table")
    parser.add_argument("--cost-rounds", type=int, default=0, help="default: --rounds")
    args = parser.parse_args()
    meta = json.loads((DATA / f"{args.database}.json").read_text())
    limits = [int(limit) for limit in args.limits.split(",")]

    env = bench_env(args.database)
    # A data set made before the latest migrations is brought up to date, as `make serve`
    # does (the API would answer 500 on a missing column).
    migrate(env)
    collect = [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"]
    subprocess.run(collect, cwd=ROOT, env=env, check=True)
    ports = [args.port + n if args.port else free_port() for n in range(args.workers)]
    for port in ports:  # a server already there would answer in ours' place
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise SystemExit(f"port {port} is taken")
    processes = []
    try:
        for port in ports:
            processes.append(start_server(env, port=port, workers=1))
        time.sleep(1)  # every worker booted
        postgres = postgres_name() if args.database == "postgres" else ""
        server = Server(processes, ports, postgres)
        rows = [row for row in endpoints(server, meta, limits) if args.only in row["endpoint"]]
        print(
            f"{args.database}: {args.workers} server(s) of one uvicorn worker under gunicorn, "
            f"{args.connections} wrk connections shared out over them, {args.seconds} s per "
            f"run, {args.rounds} round(s)",
            flush=True,
        )
        results = []
        for row in [] if args.costs_only else rows:
            result = measure(server, row, args.seconds, args.connections, args.rounds)
            results.append(result)
            api, floor = result["api"], result["floor"]
            line = (
                f"  {row['endpoint']:38} api {api['rps']:5.0f}/s p50 {api['p50']:5.1f} ms "
                f"p99 {api['p99']:5.1f} ms {result['api_cpu_ms']:.2f} cpu-ms | "
                f"floor {floor['rps']:5.0f}/s p50 {floor['p50']:5.1f} ms "
                f"p99 {floor['p99']:5.1f} ms {result['floor_cpu_ms']:.2f} cpu-ms | "
                f"ratio {result['ratio']:.2f} cpu {result['cpu_ratio']:.2f}"
            )
            if args.rounds > 1:
                line += f" {result['ratios']} cpu {result['cpu_ratios']}"
            if api["errors"] or floor["errors"]:
                line += f"  NON-2XX api {api['errors']} floor {floor['errors']}"
            print(line, flush=True)
        below = [r["endpoint"] for r in results if r["ratio"] < 0.5]
        print(f"  below 0.5 of the floor (requests/s): {', '.join(below) or 'none'}")
        print("costs, one request against another (the first named against the second):")
        rounds = args.cost_rounds or args.rounds
        relative = costs(server, rows, args.seconds, args.connections, rounds)
        output = Path(args.output) if args.output else DATA / f"results-{args.database}.json"
        output.write_text(
            json.dumps(
                {"meta": meta, "settings": vars(args), "results": results, "costs": relative},
                indent=2,
            )
        )
    finally:
        for process in processes:
            stop(process)


def costs(server: Server, rows: list[dict], seconds: int, conns: int, rounds: int) -> dict:
    """What one request costs against another, measured back to back like an endpoint
    and its floor (alternating, `rounds` times, medians): a 50-row page against a 1-row
    page of each paged read (the API's, and its floor's), a deep page against the first
    and the 5,000-thread list against the 5-thread one. As the inverse ratio of their
    requests/s, and as the ratio of their CPU time per request."""
    by = {(row["group"], row["limit"]): row for row in rows}
    pairs = []
    for group in ("messages, first page", "messages, deep page", "thread list"):
        one, fifty = by.get((group, 1)), by.get((group, 50))
        if one and fifty:
            for side in ("api", "floor"):
                name = f"{group}, {'API' if side == 'api' else 'floor'}: 50-row page / 1-row"
                pairs.append((name, one, fifty, side))
    first, deep = by.get(("messages, first page", 20)), by.get(("messages, deep page", 20))
    if first and deep:
        pairs.append(("messages, API: deep page / first page, 20 rows", first, deep, "api"))
    heavy, light = by.get(("thread list", 20)), by.get(("thread list, light user", 20))
    if heavy and light:
        pairs.append(("thread list, API: 5,000 threads / 5, 20 rows", light, heavy, "api"))
    found = {}
    for name, cheap, dear, side in pairs:
        # `measure` runs its "api" then its "floor": here the dearer request, then the
        # cheaper one.
        result = measure(
            server,
            {**dear, "endpoint": name, "api": dear[side], "floor": cheap[side]},
            seconds,
            conns,
            rounds,
        )
        found[name] = {
            "rps": round(1 / result["ratio"], 2),
            "cpu": round(1 / result["cpu_ratio"], 2),
        }
        print(
            f"  {name}: {found[name]['rps']:.2f}x in requests/s, {found[name]['cpu']:.2f}x in "
            "CPU per request",
            flush=True,
        )
    return found


if __name__ == "__main__":
    main()
