"""Scale-out: two server processes sharing Redis deliver each other's events.

Starts two production servers (gunicorn with one uvicorn worker each, debug off) on two
loopback ports, over one database and one Redis (REDIS_URL, default
redis://127.0.0.1:6379/15). Then, across the two:

- alice (socket on A) starts a thread with bob over REST on A; bob's socket on B gets
  `thread.created`;
- alice posts over REST on A; bob's socket on B gets `message.created` with the id that
  the POST returned, and so does alice's own socket on A;
- bob marks it read over REST on B; alice's socket on A gets the read receipt;
- bob sends `typing` over his socket on B; alice's socket on A gets it;
- mallory, connected to both servers, hears nothing of it.

Meanwhile carol (socket on A) and dave (socket on B) stay silent for three times the
longest timeout involved (the servers run with REDIS_SOCKET_TIMEOUT=6 unless it is set:
18 s, past the event subscription's PING after 10 s of silence): both sockets must still
be open, and a message dave then posts over REST on B must reach carol's socket on A.
Sockets that died with a read timeout (redis-py 8's default of 5 s) fail it.

Bounded: every wait has a 5-second deadline. Exits 1 and prints the servers' logs on
failure. Usage: python scripts/scaleout.py [--database sqlite|postgres]
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts.liveserver import (  # noqa: E402
    ServerFailed,
    free_port,
    migrate,
    production_env,
    start_server,
    stop,
    throwaway_database,
)

WAIT = 5.0
PASSWORD = "scale-out-password-1"


class Failure(AssertionError):
    pass


def call(base: str, method: str, path: str, body=None, token: str | None = None):
    request = urllib.request.Request(
        base + path, data=None if body is None else json.dumps(body).encode(), method=method
    )
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raise Failure(f"{method} {path} answered {error.code}: {error.read()[:300]!r}") from None


def expect(condition: bool, event: dict) -> None:
    if not condition:
        raise Failure(f"unexpected event: {event}")


async def next_event(socket, who: str, expected_type: str, *, skipping: dict | None = None) -> dict:
    """The socket's next event, which must be of `expected_type`; an event equal to
    `skipping` in its type and thread is passed over first (one that may or may not
    arrive: a socket that connects just after a change can hear of it or not)."""
    try:
        event = json.loads(await asyncio.wait_for(socket.recv(), WAIT))
        if skipping is not None and all(event.get(k) == v for k, v in skipping.items()):
            event = json.loads(await asyncio.wait_for(socket.recv(), WAIT))
    except TimeoutError:
        raise Failure(f"{who} received no {expected_type} within {WAIT} s") from None
    if event.get("type") != expected_type:
        raise Failure(f"{who} expected {expected_type}, received {event}")
    return event


async def hears_nothing(socket, who: str) -> None:
    try:
        event = await asyncio.wait_for(socket.recv(), 0.5)
    except TimeoutError:
        return
    raise Failure(f"{who} received an event that is not theirs: {event}")


def register(base: str, names: list[str]) -> tuple[dict, dict]:
    """Register and log in `names`: their access tokens and user ids, by name."""
    tokens, ids = {}, {}
    for name in names:
        call(base, "POST", "/api/user/register/", {"username": name, "password": PASSWORD})
        _, pair = call(base, "POST", "/api/token/", {"username": name, "password": PASSWORD})
        tokens[name] = pair["access"]
        ids[name] = call(base, "GET", "/api/user/me/", token=tokens[name])[1]["id"]
    return tokens, ids


def connect(base: str, token: str):
    url = base.replace("http://", "ws://") + "/ws/"
    return websockets.connect(url, subprotocols=["bearer", token])


async def checks(a: str, b: str, idle: float) -> list[str]:
    """The story and the idle sockets, side by side, across servers `a` and `b`."""
    tokens, ids = register(a, ["alice", "bob", "mallory", "carol", "dave"])
    seen, idled = await asyncio.gather(
        scenario(a, b, tokens, ids), idle_sockets(a, b, tokens, ids, idle)
    )
    return [*seen, idled]


async def idle_sockets(a: str, b: str, tokens: dict, ids: dict, idle: float) -> str:
    """carol on A and dave on B say nothing for `idle` seconds, then dave posts."""
    _, thread = await asyncio.to_thread(
        call, a, "POST", "/api/threads/", {"participants": [ids["dave"]]}, tokens["carol"]
    )
    async with connect(a, tokens["carol"]) as carol_on_a, connect(b, tokens["dave"]) as dave_on_b:
        await asyncio.sleep(idle)
        for socket, who in ((carol_on_a, "carol on A"), (dave_on_b, "dave on B")):
            if socket.close_code is not None:
                raise Failure(
                    f"{who}'s socket was closed while idle ({idle:g} s): code "
                    f"{socket.close_code} {socket.close_reason!r}"
                )
        _, message = await asyncio.to_thread(
            call,
            b,
            "POST",
            f"/api/threads/{thread['id']}/messages",
            {"text": "after the quiet"},
            tokens["dave"],
        )
        # The thread's creation is published when it commits, on its way while the sockets
        # connect: they may hear of it first.
        created = {"type": "thread.created", "thread": thread["id"]}
        event = await next_event(carol_on_a, "carol on A", "message.created", skipping=created)
        expect(event["message"] == message["id"], event)
        await next_event(dave_on_b, "dave on B", "message.created", skipping=created)
    return f"idle {idle:g} s: both sockets open, then message.created B -> A"


async def scenario(a: str, b: str, tokens: dict, ids: dict) -> list[str]:
    """Run the story across servers `a` and `b` (base URLs); return what was seen."""
    seen = []

    def ws(base: str, name: str):
        return connect(base, tokens[name])

    async with (
        ws(a, "alice") as alice_on_a,
        ws(b, "bob") as bob_on_b,
        ws(a, "mallory") as mallory_on_a,
        ws(b, "mallory") as mallory_on_b,
    ):
        _, thread = await asyncio.to_thread(
            call, a, "POST", "/api/threads/", {"participants": [ids["bob"]]}, tokens["alice"]
        )
        event = await next_event(bob_on_b, "bob on B", "thread.created")
        expect(event["thread"] == thread["id"], event)
        await next_event(alice_on_a, "alice on A", "thread.created")
        seen.append("thread.created: A -> B")

        _, message = await asyncio.to_thread(
            call,
            a,
            "POST",
            f"/api/threads/{thread['id']}/messages",
            {"text": "from server A"},
            tokens["alice"],
        )
        event = await next_event(bob_on_b, "bob on B", "message.created")
        if event["data"] != message:
            raise Failure(f"bob on B got {event['data']}, the POST returned {message}")
        await next_event(alice_on_a, "alice on A", "message.created")
        seen.append("message.created: A -> B")

        await asyncio.to_thread(
            call, b, "PATCH", f"/api/threads/{thread['id']}/mark_read", {}, tokens["bob"]
        )
        event = await next_event(alice_on_a, "alice on A", "thread.read")
        expect(event["up_to"] == message["id"], event)
        expect(event["reader"] == ids["bob"], event)
        await next_event(bob_on_b, "bob on B", "thread.read")
        seen.append("thread.read: B -> A")

        await bob_on_b.send(json.dumps({"type": "typing", "thread": thread["id"]}))
        event = await next_event(alice_on_a, "alice on A", "typing")
        expect(event["user"] == ids["bob"], event)
        seen.append("typing: B -> A")

        await hears_nothing(mallory_on_a, "mallory on A")
        await hears_nothing(mallory_on_b, "mallory on B")
        seen.append("mallory heard nothing")
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="chat-scaleout-"))
    env = production_env(
        THROTTLE_AUTH_RATE="1000000/minute",
        DJANGO_LOG_LEVEL="WARNING",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"),
        # Small, to keep the idle check short; still above the 5 s blocking read.
        REDIS_SOCKET_TIMEOUT=os.environ.get("REDIS_SOCKET_TIMEOUT", "6"),
    )
    with throwaway_database(args.database, work, "chat_scaleout") as database_url:
        env["DATABASE_URL"] = database_url
        return run(env, work, args.database)


def run(env: dict, work: Path, database: str) -> int:
    servers = []
    try:
        migrate(env)
        ports = [free_port(), free_port()]
        for name, port in zip("AB", ports, strict=True):
            servers.append(start_server(env, port=port, log=work / f"server-{name}.log"))
        idle = 3 * float(env["REDIS_SOCKET_TIMEOUT"])
        seen = asyncio.run(checks(*(f"http://127.0.0.1:{port}" for port in ports), idle))
        print(f"scale-out ({database}, Redis {env['REDIS_URL']}): " + "; ".join(seen))
        print("scale-out: ok")
        return 0
    except (Failure, ServerFailed, OSError, websockets.WebSocketException) as failure:
        print(f"scale-out: FAILED: {failure!r}")
        for log in sorted(work.glob("server-*.log")):
            print(f"--- {log.name}\n{log.read_text()[-3000:]}")
        return 1
    finally:
        for server in servers:
            stop(server)


if __name__ == "__main__":
    sys.exit(main())
