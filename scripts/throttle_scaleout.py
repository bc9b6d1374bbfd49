"""Scale-out of the rate limits: two server processes count one user's writes together.

Starts two production servers (gunicorn with one uvicorn worker each, debug off) on two
loopback ports over one database, with a small write limit (THROTTLE_WRITE_RATE, `--rate`
a minute), then edits one message `--rate` x 4 times, alternating between the servers:

- shared: the counters in Redis (REDIS_URL, default redis://127.0.0.1:6379/15): exactly
  `--rate` edits succeed in total and the rest are 429 with Retry-After;
- all at once: another writer's `--rate` x 4 edits sent together over both servers:
  exactly `--rate` succeed, as each request's check and count is one atomic step (with a
  read of the counter and a write after it, two requests could both take the last place);
- per process (CACHE_URL=locmemcache://, the way it was before): each server counts alone
  and twice as many get through. This run checks that the first one can fail;
- connections: `--rate` x 12 more edits on the shared servers open only a few connections
  to Redis, not one per request (Django's own Redis backend did, under the ASGI server).

The run's cache keys carry a prefix of their own (CACHE_KEY_PREFIX), so it shares a Redis
database safely with other runs; they are deleted at the end, and nothing else is.
Exits 1 and prints the servers' logs on failure.
Usage: python scripts/throttle_scaleout.py [--database sqlite|postgres] [--rate 5]
"""

import argparse
import json
import os
import secrets
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts.integrity import Api  # noqa: E402
from scripts.liveserver import (  # noqa: E402
    ServerFailed,
    free_port,
    migrate,
    production_env,
    start_server,
    stop,
    throwaway_database,
)
from scripts.scaleout import Failure, call  # noqa: E402

PASSWORD = "throttle-check-password-1"


def edits_across(
    bases: list[str], label: str, attempts: int, *, at_once: bool = False
) -> tuple[int, list[int]]:
    """Register a pair on the first server, then have one of them edit a message
    `attempts` times, alternating between the servers, one after the other or, with
    `at_once`, all together: the writer's id and the statuses (in the order sent)."""
    tokens, ids = {}, {}
    for who in ("writer", "other"):
        name = f"{who}-{label}"
        call(bases[0], "POST", "/api/user/register/", {"username": name, "password": PASSWORD})
        _, pair = call(bases[0], "POST", "/api/token/", {"username": name, "password": PASSWORD})
        tokens[who] = pair["access"]
        ids[who] = call(bases[0], "GET", "/api/user/me/", token=tokens[who])[1]["id"]
    # The other one creates the thread, so the writer's write budget starts untouched
    # (posting has a budget of its own).
    _, thread = call(
        bases[0], "POST", "/api/threads/", {"participants": [ids["writer"]]}, tokens["other"]
    )
    _, message = call(
        bases[0],
        "POST",
        f"/api/threads/{thread['id']}/messages",
        {"text": "draft"},
        tokens["writer"],
    )
    path = f"/api/threads/{thread['id']}/messages/{message['id']}/"

    def edit(attempt: int) -> int:
        base = bases[attempt % len(bases)]
        status, body, headers = Api(base).send(
            "PATCH", path, {"text": f"edit {attempt}"}, tokens["writer"], timeout=10
        )
        retry_after = headers.get("Retry-After")
        if status == 429 and not (
            retry_after and int(retry_after) > 0 and json.loads(body)["code"] == "throttled"
        ):
            raise Failure(f"a 429 without Retry-After or code: {retry_after!r} {body!r}")
        if status not in (200, 429):
            raise Failure(f"edit {attempt} answered {status}: {body[:300]!r}")
        return status

    if at_once:
        with ThreadPoolExecutor(max_workers=attempts) as pool:
            return ids["writer"], list(pool.map(edit, range(attempts)))
    return ids["writer"], [edit(attempt) for attempt in range(attempts)]


def connections_received(client: redis.Redis) -> int:
    return client.info("stats")["total_connections_received"]


def run_servers(
    env: dict,
    work: Path,
    label: str,
    attempts: int,
    ports: list[int],
    redis_client: redis.Redis | None = None,
) -> tuple[int, list[int], list[int] | None, int | None]:
    """The writer's id and statuses of `attempts` edits across the servers; with
    `redis_client`, also the statuses of another writer's `attempts` edits sent all at
    once, and how many connections Redis received for as many edits again, x 3."""
    servers = []
    try:
        for name, port in zip("AB", ports, strict=True):
            log = work / f"{label}-server-{name}.log"
            servers.append(start_server(env, port=port, log=log))
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        writer, statuses = edits_across(bases, label, attempts)
        burst = opened = None
        if redis_client is not None:
            _, burst = edits_across(bases, f"{label}-burst", attempts, at_once=True)
            before = connections_received(redis_client)
            edits_across(bases, f"{label}-more", attempts * 3)
            opened = connections_received(redis_client) - before
        return writer, statuses, burst, opened
    finally:
        for server in servers:
            stop(server)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--rate", type=int, default=5, help="write limit, per minute")
    parser.add_argument("--ports", type=int, nargs=2, help="the servers' ports (default: free)")
    args = parser.parse_args()

    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15")
    prefix = f"throttle-check-{os.getpid()}-{secrets.token_hex(4)}"
    work = Path(tempfile.mkdtemp(prefix="chat-throttle-scaleout-"))
    env = production_env(
        THROTTLE_AUTH_RATE="1000000/minute",
        THROTTLE_MESSAGE_POST_RATE="1000000/minute",
        THROTTLE_WRITE_RATE=f"{args.rate}/minute",
        DJANGO_LOG_LEVEL="WARNING",
        REDIS_URL=redis_url,
        CACHE_KEY_PREFIX=prefix,
        CACHE_URL="",
    )
    client = redis.Redis.from_url(redis_url, socket_timeout=5)
    attempts = args.rate * 4
    ports = args.ports or [free_port(), free_port()]
    try:
        with throwaway_database(args.database, work, "chat_throttle_scaleout") as database_url:
            env["DATABASE_URL"] = database_url
            migrate(env)
            writer, shared, burst, opened = run_servers(
                env, work, "shared", attempts, ports, client
            )
            # Django's cache key is KEY_PREFIX:version:key; the window's key is
            # window:<DRF's key>, DRF's key throttle_<scope>_<ident>.
            in_redis = client.exists(f"{prefix}:1:window:throttle_write_{writer}")
            local = {**env, "CACHE_URL": "locmemcache://"}
            _, per_process, _, _ = run_servers(local, work, "local", attempts, ports)
    except (Failure, ServerFailed, OSError) as failure:
        print(f"throttle scale-out: FAILED: {failure!r}")
        for log in sorted(work.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")
        return 1
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()

    where = (
        f"{args.database}, Redis {redis_url}, {args.rate}/minute, {attempts} edits over 2 servers"
    )
    print(
        f"throttle scale-out ({where}): shared cache {shared.count(200)} ok + "
        f"{shared.count(429)} x 429, all at once {burst.count(200)} ok + "
        f"{burst.count(429)} x 429; per-process cache "
        f"{per_process.count(200)} ok + {per_process.count(429)} x 429; "
        f"{opened} Redis connections opened for {attempts * 3} more edits and their set-up"
    )
    failed = False
    if shared.count(200) != args.rate or shared[: args.rate] != [200] * args.rate:
        print(f"throttle scale-out: FAILED: with the shared cache {shared}")
        failed = True
    if burst.count(200) != args.rate:
        # Two requests at once must not both take the last place in the window.
        print(f"throttle scale-out: FAILED: sent all at once, {burst}")
        failed = True
    if not in_redis:
        print("throttle scale-out: FAILED: the writer's counter is not in Redis")
        failed = True
    if per_process.count(200) != 2 * args.rate:
        # Had the servers not each counted alone, the shared run proved nothing.
        print(f"throttle scale-out: FAILED: per-process counting let through {per_process}")
        failed = True
    if opened > attempts:
        # Each server holds a pool per process; a connection per request is a leak.
        print(f"throttle scale-out: FAILED: {opened} Redis connections for {attempts * 3} edits")
        failed = True
    if failed:
        return 1
    print("throttle scale-out: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
