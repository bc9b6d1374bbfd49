"""What keeping the rate-limit counters in Redis costs a write, against each process's memory.

    python bench/throttle_cache.py [--database sqlite|postgres] [--seconds 5] [--rounds 2]

Needs wrk (Debian package `wrk`) and Redis (REDIS_URL, default redis://127.0.0.1:6379/15;
the server's keys carry a prefix of their own). Starts the production server of
`make serve` (one worker, access log off) on a fresh database twice per round, both with
REDIS_URL: once with the counters in Redis (the default with REDIS_URL) and once with
CACHE_URL=locmemcache://, and measures posting a message and marking a thread read (each
passes one throttle) under wrk. Rounds alternate the two set-ups so that a machine that
gets busier or quieter during the run weighs on both; the figures to compare are the
ratios, measured in the same run.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.load import UNBITING_RATE, call, wrk  # noqa: E402
from scripts.liveserver import (  # noqa: E402
    free_port,
    migrate,
    production_env,
    start_server,
    stop,
    throwaway_database,
)

PASSWORD = "bench-throttle-password-1"
SETUPS = {"Redis": {}, "process memory": {"CACHE_URL": "locmemcache://"}}


def measure(env: dict, seconds: int, connections: int) -> dict[str, float]:
    """Requests per second of a post and of a mark_read, on a server started with `env`."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(env, port=port)
    try:
        token = {}
        for name in ("ann", "ben"):
            call(base, "POST", "/api/user/register/", {"username": name, "password": PASSWORD})
            token[name] = call(
                base, "POST", "/api/token/", {"username": name, "password": PASSWORD}
            )["access"]
        ben = call(base, "GET", "/api/user/me/", token=token["ben"])["id"]
        thread = call(base, "POST", "/api/threads/", {"participants": [ben]}, token=token["ann"])
        headers = {"Authorization": f"Bearer {token['ann']}", "Content-Type": "application/json"}
        messages = f"{base}/api/threads/{thread['id']}/messages"
        mark_read = f"{base}/api/threads/{thread['id']}/mark_read"
        results = {}
        for label, url, method, body in [
            ("post a message", messages, "POST", '{"text": "hello"}'),
            ("mark read", mark_read, "PATCH", "{}"),
        ]:
            figures = wrk(url, method, body, headers, seconds, connections)
            if figures["errors"]:
                raise SystemExit(f"{label}: {figures['errors']} answers were not 2xx")
            results[label] = figures["rps"]
        return results
    finally:
        stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")

    runs: dict[str, list[dict[str, float]]] = {name: [] for name in SETUPS}
    for round_number in range(args.rounds):
        order = list(SETUPS) if round_number % 2 == 0 else list(SETUPS)[::-1]
        for name in order:
            with (
                tempfile.TemporaryDirectory() as work,
                throwaway_database(args.database, Path(work), "bench_throttle") as database,
            ):
                env = production_env(
                    DATABASE_URL=database,
                    REDIS_URL=redis_url,
                    CACHE_KEY_PREFIX=f"bench-throttle-{os.getpid()}",
                    THROTTLE_MESSAGE_POST_RATE=UNBITING_RATE,
                    THROTTLE_WRITE_RATE=UNBITING_RATE,
                    DJANGO_LOG_LEVEL="ERROR",
                    GUNICORN_ACCESSLOG="",
                    **SETUPS[name],
                )
                migrate(env)
                runs[name].append(measure(env, args.seconds, args.connections))

    print(f"Throttle counters in Redis vs in process memory ({args.database}, one worker,")
    print(f"{args.connections} connections, {args.seconds} s each, median of {args.rounds}):")
    for label in runs["Redis"][0]:
        redis = statistics.median(run[label] for run in runs["Redis"])
        memory = statistics.median(run[label] for run in runs["process memory"])
        print(
            f"  {label:<15} Redis {redis:7.0f} req/s   memory {memory:7.0f} req/s   "
            f"ratio {redis / memory:.2f}"
        )
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
