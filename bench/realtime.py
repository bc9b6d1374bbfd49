"""Real-time delivery latency: from a REST POST to the other participant's socket.

    python bench/realtime.py --layer memory [--clients 1000] [--rounds 5] [--concurrency 4]
    python bench/realtime.py --layer redis   # needs Redis at 127.0.0.1:6379
    python bench/realtime.py --serve [--rate 50 100 190] [--seconds 10] [--baseline REV]

Builds a fresh database with `--clients` users in pairs, one thread per pair, and starts
the production server (gunicorn + uvicorn workers, debug off, access log off, rate limits
that never bite). Every user holds one WebSocket; each pair's first user posts to the
other over REST; the script records when each POST was sent and returned and when the
other participant's socket received its `message.created`.

Closed loop (`--layer`, SQLite): each pair's first user posts `--rounds` messages,
`--concurrency` posts in flight at once on keep-alive connections, so the posts go as fast
as the server answers them. With `--layer memory` one server process and the in-memory
channel layer; with `--layer redis` two server processes sharing Redis (`--redis-url`,
default REDIS_URL or redis://127.0.0.1:6379/5), every socket connected to server B and
every POST sent to server A, so each event crosses processes through Redis. It prints
posts/s, and p50/p99 of the delivery latency measured from the POST being sent and from
its response returning. The event is published when the transaction commits, before the
response is written, so it often arrives first: the second figure is then negative (and
the share of such events is printed).

Deployment topology (`--serve`): what `make serve` runs, one gunicorn server
(gunicorn.conf.py) with `--workers` (2) uvicorn workers on the Redis layer, every socket
and every POST sent to that one port (the kernel spreads the connections over the
workers), on PostgreSQL (a throwaway database on 127.0.0.1:5432; `--database sqlite`
serialises the two workers' writes on SQLite's lock). Open loop: for each `--rate` the
posts are sent on a fixed schedule, `--rate` a second for `--seconds`, whatever the
server's answers take, after `--warmup` seconds at that rate that are not counted. Each
post opens a connection of its own, as a browser does here: gunicorn keeps an idle
connection 2 s, and each of the 500 posting users posts every 2.6 s at 190 posts/s (a
proxy in front without upstream keep-alive does the same); with `--connections N` the
posts share N keep-alive connections instead (a post whose turn comes while all are busy
gets a new one), which the kernel shares out between the workers once, by chance. Each
rate gets a freshly started server and freshly connected sockets. Printed per rate:
posts/s sent and answered, p50/p99/max from the POST sent to the event's arrival (and
its two parts: the POST's answer, and the event's arrival after that answer), the
events still missing `--grace` seconds after the last answer, how far the sender fell
behind its schedule (p99), how the connections fell over the workers, and the CPU share
(of one core) of each worker, of this process, of Redis and of everything else on the
machine (PostgreSQL, other people's work) during the measurement: on a shared machine, a
run whose "everything else" is high was measured on a busy machine.
`--baseline REV` also runs every rate on the code of git revision REV (exported with `git
archive` into a temporary folder; same database, same virtualenv), alternating with the
working tree's code rate by rate, so that the two are measured side by side in one run.
`--py-spy PATH` records each worker with that py-spy during the measurement, the samples
of the thread holding the GIL, into bench/data/profile-<rate>-<code>-worker<n>.txt (py-spy's
raw format: one stack and its count a line).

Results go to bench/data/realtime-<mode>.json. A benchmark, not a test: nothing is asserted.
"""

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
PYTHON = sys.executable
sys.path.insert(0, str(ROOT))
from bench.load import UNBITING_RATE  # noqa: E402
from scripts.liveserver import (  # noqa: E402
    free_port,
    migrate,
    production_env,
    stop,
    throwaway_database,
    wait_until_listening,
)

# Connecting more sockets at once than this only queues them in the server's backlog.
CONNECT_BATCH = 100


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


def start_server(env: dict, *, port: int, workers: int = 1, tree: Path = ROOT, log: Path):
    """`make serve`'s gunicorn (gunicorn.conf.py) with the code in `tree`, on `port`, once
    each of its workers has started (the port accepts connections before they do)."""
    command = [PYTHON, "-m", "gunicorn", "--workers", str(workers), "--bind", f"127.0.0.1:{port}"]
    server = subprocess.Popen(
        command, cwd=tree, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    wait_until_listening(server, port, log)
    deadline = time.monotonic() + 60
    while log.read_text().count("Started server process") < workers:
        if time.monotonic() > deadline or server.poll() is not None:
            stop(server)
            raise RuntimeError(f"the workers did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)
    return server


def stop_server(server: subprocess.Popen, pids: list[int]) -> list[int]:
    """Stop `server`; SIGKILL the workers still running 10 s after it (returns their pids)."""
    stop(server)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
        time.sleep(0.2)
    left = [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    return left


def bench_port() -> int:
    """A free port in BENCH_PORTS (default 18100-18199), else any free port."""
    first, _, last = os.environ.get("BENCH_PORTS", "18100-18199").partition("-")
    for port in range(int(first), int(last or first) + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


# gunicorn closes a keep-alive connection idle for 2 s (its `keepalive` setting).
KEEPALIVE_SECONDS = 1.5


class HttpConnection:
    """A keep-alive HTTP/1.1 connection for JSON POSTs (the standard library has no async
    client, and threads would add their own latency to what is measured). One left idle
    longer than the server keeps it is replaced before the next post is sent."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader = self.writer = None
        self.used = 0.0

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.used = time.monotonic()

    async def post(self, path: str, body: dict, token: str, on_sent=None) -> tuple[int, dict]:
        if self.writer is not None and time.monotonic() - self.used > KEEPALIVE_SECONDS:
            self.close()
            self.writer = None
        if self.writer is None:
            await self.open()
        payload = json.dumps(body).encode()
        if on_sent is not None:
            on_sent()
        self.writer.write(
            (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            ).encode()
            + payload
        )
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        body_bytes = await self.reader.readexactly(length)
        self.used = time.monotonic()
        return int(status_line.split()[1]), json.loads(body_bytes or b"null")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def connect_sockets(
    people: list[dict], port: int, received: dict, closed: list | None = None
) -> list[asyncio.Task]:
    """One WebSocket per person on `port`; `received[message id]` is when the other
    participant's socket got its message.created; `closed` gets the close code of each
    socket the server closed."""
    closed = [] if closed is None else closed
    listeners = []

    async def listen(person: dict, ready: asyncio.Event) -> None:
        url = f"ws://127.0.0.1:{port}/ws/"
        async with websockets.connect(
            url, subprotocols=["bearer", person["token"]], max_queue=None
        ) as ws:
            ready.set()
            with contextlib.suppress(websockets.ConnectionClosed):
                async for raw in ws:
                    event = json.loads(raw)
                    theirs = event["type"] == "message.created" and event["data"]["sender"]
                    if theirs and theirs != person["id"]:
                        received.setdefault(event["message"], time.perf_counter())
            closed.append(ws.close_code)

    for batch_start in range(0, len(people), CONNECT_BATCH):
        waits = []
        for person in people[batch_start : batch_start + CONNECT_BATCH]:
            ready = asyncio.Event()
            listeners.append(asyncio.create_task(listen(person, ready)))
            waits.append(ready.wait())
        await asyncio.wait_for(asyncio.gather(*waits), 60)
    return listeners


async def disconnect(listeners: list[asyncio.Task]) -> None:
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)


async def run(people: list[dict], post_port: int, socket_port: int, args) -> dict:
    """The closed loop (`--layer`)."""
    received: dict[int, float] = {}
    listeners = await connect_sockets(people, socket_port, received)

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
    await disconnect(listeners)

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


# --- The deployment topology (--serve) ------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has been busy so far, all cores (from /proc/stat)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def worker_pids(server: subprocess.Popen) -> list[int]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return sorted(int(pid) for pid in children)


def redis_pid(redis_url: str) -> int | None:
    """The pid of the Redis server behind `redis_url`, if it runs on this machine."""
    import redis

    try:
        return int(redis.Redis.from_url(redis_url).info("server")["process_id"])
    except (redis.RedisError, KeyError, ValueError):
        return None


def connections_per_worker(port: int, pids: list[int]) -> list[int]:
    """How many established connections to `port` each worker holds (from `ss`)."""
    output = subprocess.run(
        ["ss", "-Htnp", "state", "established", f"( sport = :{port} )"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return [output.count(f"pid={pid},") for pid in pids]


class Poster:
    """Sends posts on a fixed schedule (an open loop): each on a new connection, or with
    `keep_alive`, over a pool of keep-alive connections where a post whose turn comes
    while every connection is busy gets a new one."""

    def __init__(self, port: int, senders: list[dict], keep_alive: bool) -> None:
        self.port = port
        self.senders = senders
        self.keep_alive = keep_alive
        self.idle: list[HttpConnection] = []
        self.opened = 0
        self.failures: list[str] = []

    def close(self) -> None:
        for connection in self.idle:
            connection.close()

    async def warm(self, connections: int) -> None:
        for _ in range(connections):
            connection = HttpConnection(self.port)
            await connection.open()
            self.idle.append(connection)
        self.opened = connections

    async def post(self, number: int, record: dict) -> None:
        sender = self.senders[number % len(self.senders)]
        if self.idle:
            connection = self.idle.pop(0)  # the longest idle: every connection keeps busy
        else:
            connection = HttpConnection(self.port)
            self.opened += 1
        sent_at = []
        try:
            status, message = await connection.post(
                f"/api/threads/{sender['thread']}/messages",
                {"text": f"post {number}"},
                sender["token"],
                on_sent=lambda: sent_at.append(time.perf_counter()),
            )
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            connection.close()
            self.failures.append(repr(error))
            return
        if self.keep_alive:
            self.idle.append(connection)
        else:
            connection.close()
        if status != 201:
            self.failures.append(f"{status}: {message}")
            return
        record[message["id"]] = (sent_at[0], time.perf_counter())

    async def run(self, rate: float, seconds: float, first: int, record: dict) -> dict:
        """`rate` posts a second for `seconds`; returns the schedule's figures."""
        count = int(rate * seconds)
        tasks, lag = [], []
        began = time.perf_counter()
        for number in range(count):
            due = began + number / rate
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            lag.append((time.perf_counter() - due) * 1000)
            tasks.append(asyncio.create_task(self.post(first + number, record)))
        sending = time.perf_counter() - began
        await asyncio.gather(*tasks)
        return {
            "count": count,
            "sent_per_second": count / sending if sending else 0.0,
            "answered_per_second": len(tasks) / (time.perf_counter() - began),
            "lag_p99_ms": percentile(lag, 0.99),
            "finished": time.perf_counter(),
        }


async def measure_serve(
    people: list[dict], port: int, pids: list[int], rate: float, code: str, args
) -> dict:
    """One rate against one freshly started server (its workers: `pids`) running `code`."""
    received: dict[int, float] = {}
    closed: list[int | None] = []
    listeners = await connect_sockets(people, port, received, closed)
    poster = Poster(port, people[::2], keep_alive=args.connections > 0)
    await poster.warm(args.connections)
    sockets_per_worker = connections_per_worker(port, pids)
    warm: dict[int, tuple[float, float]] = {}
    await poster.run(rate, args.warmup, 0, warm)
    await asyncio.sleep(1)

    redis = redis_pid(args.redis_url)
    watched = {f"worker {n + 1}": pid for n, pid in enumerate(pids)}
    watched.update({"bench": os.getpid(), **({"redis": redis} if redis else {})})
    profilers = (
        [
            subprocess.Popen(
                [
                    args.py_spy,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(int(args.seconds)),
                    "--rate",
                    "200",
                    "--format",
                    "raw",
                    "--nonblocking",
                    "--gil",
                    "--output",
                    str(DATA / f"profile-{rate:g}-{code}-worker{n + 1}.txt"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for n, pid in enumerate(pids)
        ]
        if args.py_spy
        else []
    )
    cpu_before = {name: cpu_seconds(pid) for name, pid in watched.items()}
    machine_before = machine_cpu_seconds()
    record: dict[int, tuple[float, float]] = {}
    began = time.perf_counter()
    schedule = await poster.run(rate, args.seconds, len(warm) + 1, record)
    elapsed = time.perf_counter() - began
    cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in watched.items()}
    cpu["everything else (PostgreSQL, other users)"] = max(
        0.0, machine_cpu_seconds() - machine_before - sum(cpu.values())
    )
    for profiler in profilers:
        profiler.wait()
    await asyncio.sleep(max(0.0, schedule["finished"] + args.grace - time.perf_counter()))
    missing = sum(message_id not in received for message_id in record)
    closed_by_server = list(closed)
    await disconnect(listeners)
    poster.close()

    latencies = [
        (received[message_id] - started) * 1000
        for message_id, (started, _) in record.items()
        if message_id in received
    ]
    answers = [(answered - started) * 1000 for started, answered in record.values()]
    after_answer = [
        (received[message_id] - answered) * 1000
        for message_id, (_, answered) in record.items()
        if message_id in received
    ]
    return {
        "rate": rate,
        "worker_cpu_ms_per_post": round(
            sum(seconds for name, seconds in cpu.items() if name.startswith("worker"))
            * 1000
            / max(1, schedule["count"]),
            2,
        ),
        "posts": schedule["count"],
        "answered_201": len(record),
        "failed": len(poster.failures),
        "failures_sample": poster.failures[:3],
        "sent_per_second": round(schedule["sent_per_second"], 1),
        "answered_per_second": round(schedule["answered_per_second"], 1),
        "sender_lag_p99_ms": round(schedule["lag_p99_ms"], 2),
        "post_connections": poster.opened,
        "sockets_and_connections_per_worker": sockets_per_worker,
        "delivered": len(latencies),
        "sockets_closed_by_the_server": dict(Counter(closed_by_server)),
        "missing_after_grace": missing,
        "from_post_sent_ms": {
            "p50": round(statistics.median(latencies), 2) if latencies else None,
            "p99": round(percentile(latencies, 0.99), 2) if latencies else None,
            "max": round(max(latencies), 2) if latencies else None,
        },
        "post_answered_ms": {
            "p50": round(statistics.median(answers), 2) if answers else None,
            "p99": round(percentile(answers, 0.99), 2) if answers else None,
        },
        "after_post_answered_ms": {
            "p50": round(statistics.median(after_answer), 2) if after_answer else None,
            "p99": round(percentile(after_answer, 0.99), 2) if after_answer else None,
        },
        "cpu_share": {name: round(seconds / elapsed, 2) for name, seconds in cpu.items()},
    }


def serve_mode(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="chat-realtime-"))
    trees = {"tree": ROOT}  # what the results call the code: where it is
    if args.baseline:
        baseline = work / "baseline"
        baseline.mkdir()
        archive = subprocess.run(
            ["git", "archive", args.baseline], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(baseline)], input=archive, check=True)
        trees = {"baseline": baseline, **trees}
    DATA.mkdir(parents=True, exist_ok=True)
    with throwaway_database(args.database, work, "chat_rt_bench") as database_url:
        env = production_env(
            DATABASE_URL=database_url,
            THROTTLE_AUTH_RATE=UNBITING_RATE,
            THROTTLE_MESSAGE_POST_RATE=UNBITING_RATE,
            THROTTLE_WRITE_RATE=UNBITING_RATE,
            DJANGO_LOG_LEVEL="WARNING",
            GUNICORN_ACCESSLOG="",
            REDIS_URL=args.redis_url,
            WEB_CONCURRENCY=str(args.workers),
        )
        people = prepare_database(env, args.clients)
        results = []
        print(
            f"make serve's topology: {args.workers} workers on one port, {len(people)} "
            f"sockets, REDIS_URL={args.redis_url}, {args.database}, open loop of "
            f"{args.seconds:g} s per rate after {args.warmup:g} s of warm-up"
        )
        for rate in args.rate:
            for code, tree in trees.items():
                port = bench_port()
                log = work / f"server-{rate:g}-{len(results)}.log"
                server = start_server(env, port=port, workers=args.workers, tree=tree, log=log)
                pids = worker_pids(server)
                try:
                    result = asyncio.run(measure_serve(people, port, pids, rate, code, args))
                finally:
                    left = stop_server(server, pids)
                result["code"] = code if code == "tree" else f"baseline {args.baseline}"
                result["workers_killed_after_sigterm"] = len(left)
                result["server_log_problems"] = log_problems(log)
                results.append(result)
                print(describe(result, args.grace), flush=True)
    (DATA / "realtime-serve.json").write_text(
        json.dumps({"args": vars(args), "results": results}, indent=2)
    )


def log_problems(log: Path) -> dict[str, int]:
    """The server log's WARNING, ERROR and CRITICAL lines, counted by their text (the
    time stamp and process id left out)."""
    lines = Counter()
    for line in log.read_text().splitlines():
        for level in (" WARNING ", " ERROR ", " CRITICAL ", "[ERROR]", "[CRITICAL]"):
            if level in line:
                lines[line[line.index(level) :][:160]] += 1
                break
    return dict(lines)


def describe(result: dict, grace: float) -> str:
    latency = result["from_post_sent_ms"]
    cpu = ", ".join(f"{name} {share:.0%}" for name, share in result["cpu_share"].items())
    failed = f", {result['failed']} failed {result['failures_sample']}" if result["failed"] else ""
    return (
        f"{result['code']}: {result['rate']:g}/s offered: {result['posts']} posts sent at "
        f"{result['sent_per_second']}/s (sender lag p99 {result['sender_lag_p99_ms']} ms), "
        f"answered at {result['answered_per_second']}/s{failed}; event from POST sent "
        f"p50 {latency['p50']} ms, p99 {latency['p99']} ms, max {latency['max']} ms "
        f"(the POST answered p50 {result['post_answered_ms']['p50']} ms, p99 "
        f"{result['post_answered_ms']['p99']} ms; the event after the answer p50 "
        f"{result['after_post_answered_ms']['p50']} ms, p99 "
        f"{result['after_post_answered_ms']['p99']} ms); "
        f"{result['missing_after_grace']} missing {grace:g} s after the last post; "
        f"{result['post_connections']} POST connections; sockets+connections per worker "
        f"{result['sockets_and_connections_per_worker']}; CPU: {cpu} "
        f"({result['worker_cpu_ms_per_post']} ms of worker CPU per post)"
        + (
            f"; {result['workers_killed_after_sigterm']} workers still running 10 s after "
            "SIGTERM (killed)"
            if result["workers_killed_after_sigterm"]
            else ""
        )
        + (
            f"; sockets closed by the server (by code): {result['sockets_closed_by_the_server']}"
            if result["sockets_closed_by_the_server"]
            else ""
        )
        + "".join(
            f"\n    server log, {count}x: {line}"
            for line, count in result["server_log_problems"].items()
        )
    )


def closed_loop_mode(args) -> None:
    work = Path(tempfile.mkdtemp(prefix="chat-realtime-"))
    env = production_env(
        DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}",
        THROTTLE_MESSAGE_POST_RATE=UNBITING_RATE,
        DJANGO_LOG_LEVEL="ERROR",
        GUNICORN_ACCESSLOG="",
        REDIS_URL=args.redis_url if args.layer == "redis" else "",
    )
    people = prepare_database(env, args.clients)
    servers = []
    try:
        post_port = bench_port()
        servers.append(start_server(env, port=post_port, log=work / "server-a.log"))
        socket_port = post_port
        if args.layer == "redis":
            socket_port = bench_port()
            servers.append(start_server(env, port=socket_port, log=work / "server-b.log"))
        result = asyncio.run(run(people, post_port, socket_port, args))
    finally:
        for server in servers:
            stop_server(server, worker_pids(server) if server.poll() is None else [])
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", choices=["memory", "redis"], default="memory")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5")
    )
    serve = parser.add_argument_group("deployment topology (--serve)")
    serve.add_argument("--serve", action="store_true", help="make serve's topology, open loop")
    serve.add_argument("--rate", type=float, nargs="+", default=[50, 100, 190])
    serve.add_argument("--seconds", type=float, default=10)
    serve.add_argument("--warmup", type=float, default=2)
    serve.add_argument("--grace", type=float, default=5, help="wait for late events (s)")
    serve.add_argument("--workers", type=int, default=2)
    serve.add_argument(
        "--connections",
        type=int,
        default=0,
        help="keep-alive POST connections (0: a new connection per post)",
    )
    serve.add_argument(
        "--database",
        choices=["sqlite", "postgres"],
        default="postgres",
        help="postgres: a throwaway chat_rt_bench_<pid> database on 127.0.0.1:5432",
    )
    serve.add_argument("--baseline", metavar="REV", help="also measure git revision REV's code")
    serve.add_argument("--py-spy", metavar="PATH", help="profile each worker with this py-spy")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    if args.serve:
        serve_mode(args)
    else:
        closed_loop_mode(args)


if __name__ == "__main__":
    main()
