"""Real-time delivery latency: from a REST POST to the other participant's socket.

    python bench/realtime.py --layer memory [--clients 1000] [--rounds 5] [--concurrency 4]
    python bench/realtime.py --layer redis   # needs Redis at 127.0.0.1:6379

Builds a fresh SQLite database with `--clients` users in pairs, one thread per pair, and
starts the production server (gunicorn + uvicorn workers, debug off, access log off):
with `--layer memory` one server process and the in-memory channel layer; with
`--layer redis` two server processes sharing Redis, every socket connected to server B
and every POST sent to server A, so each event crosses processes through Redis.

Every user holds one WebSocket. Each pair's first user posts `--rounds` messages to the
other over REST (`--concurrency` posts in flight at once, keep-alive connections); the
script records when each POST was sent and returned and when the other participant's
socket received its `message.created`. It prints, per layer: posts/s, and p50/p99 of the
delivery latency measured from the POST being sent and from its response returning. The
event is published when the transaction commits, before the response is written, so it
often arrives first: the second figure is then negative (and the share of such events is
printed). Results go to bench/data/realtime-<layer>.json. A benchmark, not a
test: nothing is asserted.
"""

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
PYTHON = sys.executable
sys.path.insert(0, str(ROOT))
from bench.load import UNBITING_RATE  # noqa: E402
from scripts.liveserver import free_port, migrate, production_env, start_server, stop  # noqa: E402


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def prepare_database(env: dict, clients: int) -> list[dict]:
    """Users in pairs with one thread each; returns [{id, token, thread}] in pair order."""
    migrate(env)
    script = f"""
import json
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from rest_framework_simplejwt.tokens import AccessToken
from threads.services import thread_get_or_create
User = get_user_model()
password = make_password(None)
users = User.objects.bulk_create(
    [User(username=f"rt{{i}}", password=password) for i in range({clients})]
)
users = list(User.objects.order_by("id"))
people = []
for first, second in zip(users[::2], users[1::2]):
    thread, _ = thread_get_or_create(requester=first, other=second)
    for user in (first, second):
        people.append({{"id": user.pk, "token": str(AccessToken.for_user(user)),
                        "thread": thread.pk}})
print(json.dumps(people))
"""
    output = subprocess.run(
        [PYTHON, "manage.py", "shell", "--no-imports", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


class HttpConnection:
    """A keep-alive HTTP/1.1 connection for JSON POSTs (the standard library has no async
    client, and threads would add their own latency to what is measured)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader = self.writer = None

    async def post(self, path: str, body: dict, token: str) -> tuple[int, dict]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        payload = json.dumps(body).encode()
        self.writer.write(
            (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            ).encode()
            + payload
        )
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        body_bytes = await self.reader.readexactly(length)
        return int(status_line.split()[1]), json.loads(body_bytes or b"null")


async def run(people: list[dict], post_port: int, socket_port: int, args) -> dict:
    received: dict[int, float] = {}
    listeners = []

    async def listen(person: dict, ready: asyncio.Event) -> None:
        url = f"ws://127.0.0.1:{socket_port}/ws/"
        async with websockets.connect(
            url, subprotocols=["bearer", person["token"]], max_queue=None
        ) as ws:
            ready.set()
            async for raw in ws:
                event = json.loads(raw)
                if event["type"] == "message.created" and event["data"]["sender"] != person["id"]:
                    received[event["message"]] = time.perf_counter()

    for batch_start in range(0, len(people), 100):  # connect in batches, not all at once
        waits = []
        for person in people[batch_start : batch_start + 100]:
            ready = asyncio.Event()
            listeners.append(asyncio.create_task(listen(person, ready)))
            waits.append(ready.wait())
        await asyncio.wait_for(asyncio.gather(*waits), 60)

    senders = people[::2]
    queue: asyncio.Queue = asyncio.Queue()
    for round_number in range(args.rounds):
        for sender in senders:
            queue.put_nowait((sender, round_number))
    sent: dict[int, tuple[float, float]] = {}

    async def poster() -> None:
        connection = HttpConnection(post_port)
        while not queue.empty():
            sender, round_number = queue.get_nowait()
            started = time.perf_counter()
            status, message = await connection.post(
                f"/api/threads/{sender['thread']}/messages",
                {"text": f"round {round_number}"},
                sender["token"],
            )
            if status != 201:
                raise RuntimeError(f"POST answered {status}: {message}")
            sent[message["id"]] = (started, time.perf_counter())

    began = time.perf_counter()
    await asyncio.gather(*(poster() for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - began
    deadline = time.perf_counter() + 10
    while len(received) < len(sent) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)

    from_sent, from_return = [], []
    for message_id, (started, returned) in sent.items():
        if message_id in received:
            from_sent.append((received[message_id] - started) * 1000)
            from_return.append((received[message_id] - returned) * 1000)
    return {
        "sockets": len(people),
        "posts": len(sent),
        "delivered": len(from_sent),
        "posts_per_second": round(len(sent) / elapsed, 1),
        "from_post_sent_ms": {
            "p50": round(statistics.median(from_sent), 2),
            "p99": round(percentile(from_sent, 0.99), 2),
        },
        "after_post_returned_ms": {
            "p50": round(statistics.median(from_return), 2),
            "p99": round(percentile(from_return, 0.99), 2),
        },
        "arrived_before_the_response": round(
            sum(value < 0 for value in from_return) / max(1, len(from_return)), 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", choices=["memory", "redis"], default="memory")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))

    work = Path(tempfile.mkdtemp(prefix="chat-realtime-"))
    env = production_env(
        DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}",
        THROTTLE_MESSAGE_POST_RATE=UNBITING_RATE,
        DJANGO_LOG_LEVEL="ERROR",
        GUNICORN_ACCESSLOG="",
        REDIS_URL="redis://127.0.0.1:6379/14" if args.layer == "redis" else "",
    )
    people = prepare_database(env, args.clients)
    servers = []
    try:
        post_port = free_port()
        servers.append(start_server(env, port=post_port))
        socket_port = post_port
        if args.layer == "redis":
            socket_port = free_port()
            servers.append(start_server(env, port=socket_port))
        result = asyncio.run(run(people, post_port, socket_port, args))
    finally:
        for server in servers:
            stop(server)
    where = "one process" if args.layer == "memory" else "posts on A, sockets on B"
    print(
        f"{args.layer} layer ({where}): {result['sockets']} sockets, {result['posts']} posts "
        f"at {result['posts_per_second']}/s, {result['delivered']} delivered; latency from "
        f"POST sent p50 {result['from_post_sent_ms']['p50']} ms "
        f"p99 {result['from_post_sent_ms']['p99']} ms; after the POST returned "
        f"p50 {result['after_post_returned_ms']['p50']} ms "
        f"p99 {result['after_post_returned_ms']['p99']} ms "
        f"({result['arrived_before_the_response']:.0%} arrived before the response)"
    )
    DATA.mkdir(parents=True, exist_ok=True)
    (DATA / f"realtime-{args.layer}.json").write_text(
        json.dumps({"layer": args.layer, "args": vars(args), **result}, indent=2)
    )


if __name__ == "__main__":
    main()
