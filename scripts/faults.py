"""Faults under load: a PostgreSQL restart, a killed worker and a Redis outage, survived.

Starts its own PostgreSQL (initdb into a temporary folder, as the `postgres` OS user when
run as root) and its own Redis, each on a free loopback port, and the production server on
them (gunicorn, 2 uvicorn workers, REDIS_SOCKET_TIMEOUT=6). Clients post messages the whole
time, each with a client_id that it retries on connection errors, timeouts and 5xx until it
is answered 201 or 200 (503 is an expected answer while the database is away; 500 never
is). Meanwhile, in turn:

1. PostgreSQL stops (fast) and starts again 2.5 s later;
2. one gunicorn worker is SIGKILLed (gunicorn starts another);
3. the idle WebSockets opened at the start are judged: those on the worker that survived
   must still be open after more than 3 x REDIS_SOCKET_TIMEOUT of silence, and hear the
   message then posted to them (those on the killed worker died with it);
4. Redis stops for 4 s and starts again on its port. Sam, a syncing client, takes his
   cursor (GET /api/sync/) just before; while Redis is down, over REST, olga posts two
   messages to him, edits one, deletes the other, reacts to one and takes it back, sam
   marks their thread read and otto deletes his thread with sam (each request sent once,
   each must be answered 2xx; Redis stays down until they are).

Then it checks: no 500 at all; posts are answered again within RECOVERY_LIMIT seconds after
each fault, without restarting the server; every acknowledged post is stored exactly once
and nothing else is (by client_id, straight from PostgreSQL), and every counter equals the
rows (scripts/integrity.py); a socket that lived through the Redis outage was closed with
1012 ("service restart": reconnect and catch up; 1011 accepted) or still hears events, and
a new socket hears events again; nothing changed during the outage is missed by a client
that syncs: sam, syncing from his cursor SYNC_LIMIT changes a page, gets exactly the 8
changes made during it, in the order they were made, each once, with consecutive cursors,
and a socket opened with /ws/?since=<that cursor> sends the same changes first, and
nothing after them; the server log holds at most MAX_TRACEBACKS tracebacks.

Bounded: about 45 s (under two minutes), loopback only, every loop bounded in count and time. It
stops everything it started (server, PostgreSQL, Redis, temporary folders), on failure and
Ctrl-C too. Needs initdb/pg_ctl and redis-server: without them it is skipped, except when
CI=true, where that fails. Usage: python scripts/faults.py
"""

import argparse
import asyncio
import atexit
import contextlib
import glob
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts.integrity import Api, Failure, counter_problems  # noqa: E402
from scripts.liveserver import (  # noqa: E402
    ServerFailed,
    free_port,
    migrate,
    production_env,
    start_server,
    stop,
)

WORKERS = 2
POSTERS = 5  # client threads posting the whole time
REDIS_SOCKET_TIMEOUT = 6  # seconds; the server's default is 10 (it must exceed 5)
IDLE_SECONDS = 3 * REDIS_SOCKET_TIMEOUT + 1  # silence an idle socket must outlive
IDLE_SOCKETS = 3
PG_DOWN = 2.5  # seconds PostgreSQL is away
REDIS_DOWN = 4.0  # seconds Redis is away
RECOVERY_LIMIT = 10.0  # posts must be answered again this soon after a fault ends
RECOVERY_WAIT = 20.0  # how long to wait for that before going on (so a slow one is measured)
EVENT_WAIT = 5.0  # for an event that should arrive
REQUEST_TIMEOUT = 12.0  # per request: longer than the server's database pool timeout (10 s)
RETRY_PAUSE = 0.25  # between two tries of one post (at most 1 s when a 503 says Retry-After)
POST_PAUSE = 0.05  # between two posts of one client
GIVE_UP = 45.0  # seconds one client_id is retried before the client gives up on it
MAX_ATTEMPTS = 300  # tries of one client_id
MAX_POSTS = 2000  # posts per client
SCENARIO_LIMIT = 75.0  # seconds the faults and checks may take, set-up excluded
MAX_TRACEBACKS = 5
ACCEPTED_REDIS_CLOSE_CODES = {1012, 1011}
SYNC_LIMIT = 3  # changes per page when the client syncs: the outage's take several pages
SYNC_PAGES = 20  # at most, per sync
QUIET = 1.0  # seconds a replaying socket must then stay silent (sam's log holds no more)
THUMBS_UP = "%F0%9F%91%8D"  # the emoji reacted with, as a URL path segment
PASSWORD = "faults-password-1"


def now() -> float:
    return time.monotonic()


# --- Our own PostgreSQL and Redis -------------------------------------------------------


def postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, in /usr/local/bin or /usr/lib/postgresql/*/bin."""
    candidates = [shutil.which("initdb"), "/usr/local/bin/initdb"]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    for initdb in filter(None, candidates):
        folder = Path(initdb).resolve().parent
        if os.access(folder / "initdb", os.X_OK) and os.access(folder / "pg_ctl", os.X_OK):
            return folder
    return None


class Postgres:
    """A throwaway cluster in a temporary folder, on a free loopback port. As root, it runs
    as the `postgres` OS user (initdb refuses root), who owns the folder."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="chat-faults-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.as_owner = []
        if os.geteuid() == 0:
            self.as_owner = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.folder, "postgres", "postgres")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/chat"
        self.initialized = False

    def _run(self, *args: str, check: bool = True) -> None:
        output = self.folder / "commands.out"
        with output.open("a") as out:  # not a pipe: the server pg_ctl starts would hold it
            done = subprocess.run(
                [*self.as_owner, *args], stdout=out, stderr=subprocess.STDOUT, timeout=60
            )
        if check and done.returncode:
            log = self.folder / "postgres.log"
            tail = (output.read_text() + (log.read_text() if log.exists() else ""))[-2000:]
            raise ServerFailed(f"{' '.join(args[:2])} failed: {tail}")

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-N")
        self.initialized = True
        self.start()
        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE chat")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=60"
        )
        pg_ctl = str(self.bin / "pg_ctl")
        log = str(self.folder / "postgres.log")
        self._run(pg_ctl, "-D", str(self.data), "-l", log, "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        if self.initialized and (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                          "stop", check=False)  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


class Redis:
    """redis-server as a child process on a free loopback port, without persistence."""

    def __init__(self, executable: str, folder: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.log = folder / "redis.log"
        self.command = [executable, "--port", str(self.port), "--bind", "127.0.0.1"]
        self.command += ["--save", "", "--appendonly", "no", "--dir", str(folder)]
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("a") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        deadline = now() + 10
        while now() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 1),
            ):
                return
            if self.process.poll() is not None:
                raise ServerFailed(f"redis-server exited: {self.log.read_text()[-1000:]}")
            time.sleep(0.05)
        raise ServerFailed("redis-server did not start within 10 s")

    def stop(self) -> None:
        """SIGTERM: with no persistence configured, Redis exits without saving."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


# --- Gunicorn's workers and who holds a socket ------------------------------------------


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (gunicorn's workers, for its master)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def worker_of(client_port: int, server_port: int, workers: list[int]) -> int | None:
    """The worker process that holds the server end of our connection from `client_port`:
    the socket inode in /proc/net/tcp, found among the workers' file descriptors."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if local.endswith(f":{server_port:04X}") and remote.endswith(f":{client_port:04X}"):
            inode = fields[9]
    if not inode or inode == "0":
        return None
    for pid in workers:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == f"socket:[{inode}]":
                        return pid
    return None


# --- Posting clients --------------------------------------------------------------------


@dataclass
class Attempt:
    sent: float
    done: float
    outcome: int | str  # the status, or the connection error's name


@dataclass
class Posts:
    """The posting clients and everything they were told."""

    api: Api
    lock: threading.Lock = field(default_factory=threading.Lock)
    attempts: list[Attempt] = field(default_factory=list)
    acked: dict[str, set[int]] = field(default_factory=dict)  # client_id -> message ids
    tried: set[str] = field(default_factory=set)
    gave_up: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # 500s and other wrong answers
    no_retry_after: int = 0  # 503s without a Retry-After header
    stop: threading.Event = field(default_factory=threading.Event)

    def post(self, token: str, thread_id: int, text: str) -> dict | None:
        """Post `text` with a fresh client_id, retried until answered 201 or 200; None if
        given up (GIVE_UP seconds, MAX_ATTEMPTS tries, or a 4xx that no retry changes)."""
        client_id = str(uuid.uuid4())
        body = {"text": text, "client_id": client_id}
        path = f"/api/threads/{thread_id}/messages"
        with self.lock:
            self.tried.add(client_id)
        give_up_at = now() + GIVE_UP
        for _ in range(MAX_ATTEMPTS):
            if now() > give_up_at:
                break
            sent, status, pause = now(), None, RETRY_PAUSE
            try:
                status, raw, headers = self.api.send("POST", path, body, token, REQUEST_TIMEOUT)
                outcome = status
            except (OSError, http.client.HTTPException) as error:
                outcome = type(error).__name__
            with self.lock:
                self.attempts.append(Attempt(sent, now(), outcome))
                if status in (200, 201):
                    message = json.loads(raw)
                    self.acked.setdefault(client_id, set()).add(message["id"])
                    return message
                if status == 503:
                    retry_after = headers.get("Retry-After", "")
                    self.no_retry_after += not retry_after.isdigit()
                    pause = min(1.0, float(retry_after)) if retry_after.isdigit() else pause
                elif status is not None:
                    self.unexpected.append(f"POST {path} answered {status}: {raw[:200]!r}")
                    if status < 500:
                        break
            time.sleep(pause)
        with self.lock:
            self.gave_up.append(client_id)
        return None

    def keep_posting(self, name: str, token: str, thread_id: int) -> None:
        try:
            for n in range(MAX_POSTS):
                if self.stop.is_set():
                    return
                self.post(token, thread_id, f"{name} #{n}")
                time.sleep(POST_PAUSE)
        except Exception as error:  # a bug here, not the server's: say so
            with self.lock:
                self.unexpected.append(f"client {name} crashed: {error!r}")

    def first_answer_after(self, moment: float) -> float | None:
        """When the first post was acknowledged at or after `moment`."""
        with self.lock:
            done = [a.done for a in self.attempts if a.outcome in (200, 201) and a.done >= moment]
        return min(done, default=None)

    def outcomes_between(self, start: float, end: float) -> Counter:
        """The answers (or errors) the clients got from `start` to `end`."""
        with self.lock:
            return Counter(a.outcome for a in self.attempts if start <= a.done <= end)


# --- WebSocket clients ------------------------------------------------------------------


class Listener:
    """A WebSocket client that records what it hears and how its connection ends."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.heard: list[tuple[float, dict]] = []
        self.opened = self.closed_at = None
        self.close_code: int | None = None
        self.closed_by_us = False
        self.worker: int | None = None

    async def open(self, url: str, token: str, server_port: int, master: int) -> "Listener":
        self.ws = await websockets.connect(url, subprotocols=["bearer", token], open_timeout=5)
        self.opened = now()
        self.worker = worker_of(self.ws.local_address[1], server_port, children(master))
        self.task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                self.heard.append((now(), json.loads(raw)))
        self.closed_at, self.close_code = now(), int(self.ws.close_code or 0)

    def heard_after(self, moment: float, kind: str = "message.created") -> list[dict]:
        return [event for at, event in self.heard if at >= moment and event["type"] == kind]

    async def close(self) -> None:
        if self.closed_at is None:
            self.closed_by_us = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 5)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.task, 5)


async def first_event(listener: "Listener", seconds: float) -> float | None:
    """When `listener` heard its first message.created, waiting up to `seconds` (None if it
    did not, or its connection ended)."""
    await until(lambda: listener.heard_after(0) or listener.closed_at, seconds)
    return next((at for at, event in listener.heard if event["type"] == "message.created"), None)


async def until(condition, seconds: float, step: float = 0.05) -> bool:
    """Wait for `condition()` up to `seconds`; whether it came true."""
    deadline = now() + seconds
    while not condition():
        if now() > deadline:
            return False
        await asyncio.sleep(step)
    return True


# --- The run ----------------------------------------------------------------------------


@dataclass
class Fault:
    name: str
    start: float
    end: float
    recovered: float | None = None  # seconds from the end to the next acknowledged post
    notes: list[str] = field(default_factory=list)


@dataclass
class Run:
    api: Api
    posts: Posts
    pg: Postgres
    redis: Redis
    server: subprocess.Popen
    port: int
    tokens: dict[str, str]
    threads: dict[str, int]  # poster (or "ivy") -> their thread with rita
    sync_threads: dict[str, int]  # olga, otto -> their thread with sam, the syncing client
    faults: list[Fault] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    load_seconds: float = 0.0  # how long the clients posted
    # Olga's posts in the Redis outage: client_id -> the message, None if not answered 2xx.
    sync_posts: dict[str, int | None] = field(default_factory=dict)

    async def listen(self, name: str, user: str, query: str = "") -> Listener:
        url = f"ws://127.0.0.1:{self.port}/ws/{query}"
        listener = await Listener(name).open(url, self.tokens[user], self.port, self.server.pid)
        self.listeners.append(listener)
        return listener

    async def outage(
        self, name: str, service, seconds: float, during: Callable[[], None] | None = None
    ) -> Fault:
        """Stop `service` (its `stop` and `start`) for `seconds`, then measure the recovery.
        `during`, if given, runs (in a thread) while the service is down, which it stays
        until `during` returns, however long that takes: what it does happens in the outage."""
        fault = Fault(name, now(), 0)
        await asyncio.to_thread(service.stop)
        pause = asyncio.sleep(seconds)
        await (asyncio.gather(pause, asyncio.to_thread(during)) if during else pause)
        await asyncio.to_thread(service.start)
        fault.end = now()
        await self.recovery(fault)
        return fault

    async def recovery(self, fault: Fault) -> None:
        """Measure how soon after `fault` ended a post was acknowledged again."""
        await until(lambda: self.posts.first_answer_after(fault.end), RECOVERY_WAIT, 0.1)
        answered = self.posts.first_answer_after(fault.end)
        fault.recovered = None if answered is None else answered - fault.end
        self.faults.append(fault)
        if fault.recovered is None or fault.recovered > RECOVERY_LIMIT:
            self.problems.append(
                f"{fault.name}: no post acknowledged within {RECOVERY_LIMIT:.0f} s after it "
                f"ended ({'none in' if answered is None else 'first after'} "
                f"{RECOVERY_WAIT if answered is None else fault.recovered:.1f} s)"
            )


# --- Catch-up sync across the Redis outage ---------------------------------------------


def change_key(change: dict) -> tuple[str, int]:
    """What a change is: its type and its message's id (a thread's change: the thread's)."""
    return change["type"], change.get("message", change["thread"])


def cursor_of(run: Run, user: str) -> int:
    """`user`'s current cursor, as a client takes it before going away (no `since`)."""
    status, page = run.api.call("GET", "/api/sync/", token=run.tokens[user])
    if status != 200 or page["changes"] or page["has_more"]:
        raise Failure(f"GET /api/sync/ answered {status}: {page}")
    return page["cursor"]


def change_while_down(run: Run) -> list[tuple[str, int]]:
    """Olga and otto change their threads with sam over REST, and sam marks one read, while
    Redis is down: every change sam's log must hold. Each request is sent once (no retry)
    and must be answered 2xx; the first that is not ends the sequence, since later ones
    depend on it. Returns the changes made, as `change_key`s, in order."""
    olga, sam, otto = (run.tokens[name] for name in ("olga", "sam", "otto"))
    thread = run.sync_threads["olga"]
    messages = f"/api/threads/{thread}/messages"
    made: list[tuple[str, int]] = []

    def write(method: str, path: str, token: str, body: dict | None = None) -> dict | None:
        try:
            status, raw, _ = run.api.send(method, path, body, token, REQUEST_TIMEOUT)
        except (OSError, http.client.HTTPException) as error:
            run.problems.append(f"{method} {path} while Redis was down: {error!r}")
            return None
        if not 200 <= status < 300:
            run.problems.append(
                f"{method} {path} while Redis was down answered {status}: {raw[:200]!r}"
            )
            return None
        return json.loads(raw) if raw else {}

    def post(text: str) -> int | None:
        client_id = str(uuid.uuid4())
        message = write("POST", messages, olga, {"text": text, "client_id": client_id})
        run.sync_posts[client_id] = message and message["id"]  # for check_database
        if message is None:
            return None
        made.append(("message.created", message["id"]))
        return message["id"]

    kept, dropped = post("sent while Redis is down"), post("and deleted while it is")
    if kept is None or dropped is None:
        return made
    reaction, doomed = f"{messages}/{kept}/reactions/{THUMBS_UP}", run.sync_threads["otto"]
    steps = [
        ("PATCH", f"{messages}/{kept}/", olga, {"text": "edited"}, ("message.updated", kept)),
        ("DELETE", f"{messages}/{dropped}/", olga, None, ("message.deleted", dropped)),
        ("PUT", reaction, olga, None, ("reaction.added", kept)),
        ("DELETE", reaction, olga, None, ("reaction.removed", kept)),
        ("PATCH", f"/api/threads/{thread}/mark_read", sam, None, ("thread.read", thread)),
        ("DELETE", f"/api/threads/{doomed}/", otto, None, ("thread.deleted", doomed)),
    ]
    for method, path, token, body, change in steps:
        if write(method, path, token, body) is None:
            break
        made.append(change)
    return made


def sync_from(run: Run, user: str, since: int) -> list[dict]:
    """Every change in `user`'s log after `since`, SYNC_LIMIT a page, synced as a client
    does: from the cursor each page answers, until `has_more` is false."""
    changes: list[dict] = []
    for _ in range(SYNC_PAGES):
        path = f"/api/sync/?since={since}&limit={SYNC_LIMIT}"
        status, page = run.api.call("GET", path, token=run.tokens[user])
        if status != 200:
            raise Failure(f"GET {path} answered {status}: {page}")
        changes += page["changes"]
        since = page["cursor"]
        if not page["has_more"]:
            return changes
    run.problems.append(f"{user}'s sync still had more after {SYNC_PAGES} pages")
    return changes


async def check_catch_up(run: Run, fault: Fault, since: int, made: list) -> None:
    """Sam, away through the outage, syncs from `since` and must get exactly the changes
    `made` during it, in order, once, with consecutive cursors; then a socket opened with
    `?since=` must replay the same changes first, and nothing after them."""
    changes = await asyncio.to_thread(sync_from, run, "sam", since)
    got = [change_key(change) for change in changes]
    cursors = [change["cursor"] for change in changes]
    synced = got == made and cursors == list(range(since + 1, since + 1 + len(made)))
    if got != made:
        run.problems.append(
            f"sam synced after the Redis outage {got}, not the changes made during it {made}"
        )
    if cursors != list(range(since + 1, since + 1 + len(changes))):
        run.problems.append(f"sam's changes since {since} came with the cursors {cursors}")
    fault.notes.append(
        f"a client that synced after it ({SYNC_LIMIT} a page) got all {len(made)} changes "
        f"made during it, in order, once, cursors {since + 1}..{since + len(made)}"
        if synced
        else f"a client that synced after it got {len(changes)} changes for the "
        f"{len(made)} made during it: wrong"
    )

    try:
        socket = await run.listen("since-after-redis", "sam", f"?since={since}")
    except (OSError, websockets.WebSocketException) as error:
        run.problems.append(f"a socket with ?since={since} could not connect: {error!r}")
        return
    await until(lambda: len(socket.heard) >= len(changes) or socket.closed_at, EVENT_WAIT)
    await asyncio.sleep(QUIET)  # nothing else changes for sam: more would be a repeat
    heard = [event for _, event in socket.heard]
    ended = f", then closed with {socket.close_code}" if socket.closed_at else ""
    await socket.close()
    if heard != changes:
        run.problems.append(
            f"a socket with ?since={since} sent "
            f"{[(*change_key(event), event.get('cursor')) for event in heard]}{ended}, "
            f"not what the sync answered "
            f"{[(*change_key(change), change['cursor']) for change in changes]}"
        )
    fault.notes.append(
        f"a socket with since= replayed the same {len(changes)} (same cursors), then nothing"
        if heard == changes
        else f"a socket with since= sent {len(heard)} events for those {len(changes)}: wrong"
    )


async def scenario(run: Run) -> None:
    posts, master = run.posts, run.server.pid
    idle = [await run.listen(f"idle-{i}", "ivy") for i in range(IDLE_SOCKETS)]
    clients = [
        threading.Thread(
            target=posts.keep_posting, args=(name, run.tokens[name], thread_id), daemon=True
        )
        for name, thread_id in run.threads.items()
        if name != "ivy"
    ]
    for client in clients:
        client.start()
    started = now()
    if not await until(lambda: posts.first_answer_after(started), EVENT_WAIT):
        raise Failure("no post was acknowledged before any fault: the load does not work")
    await asyncio.sleep(2)

    # 1. PostgreSQL restarts.
    await run.outage(f"PostgreSQL restart (down {PG_DOWN} s)", run.pg, PG_DOWN)
    await asyncio.sleep(2)

    # 2. A worker dies: the one holding the fewest idle sockets, so that some survive.
    workers = children(master)
    if len(workers) != WORKERS:
        raise Failure(f"gunicorn has {len(workers)} workers, not {WORKERS}: {workers}")
    held = Counter(listener.worker for listener in idle)
    victim = min(workers, key=lambda pid: held[pid])
    fault = Fault(f"worker {victim} SIGKILLed", now(), 0)
    os.kill(victim, signal.SIGKILL)
    fault.end = now()
    respawned = await until(lambda: len(set(children(master)) - {victim}) == WORKERS, 15, 0.1)
    fault.notes.append(
        f"gunicorn started another worker in {now() - fault.end:.1f} s"
        if respawned
        else "gunicorn did not start another worker within 15 s"
    )
    if not respawned:
        run.problems.append(f"{fault.name}: no worker took its place within 15 s")
    await run.recovery(fault)
    doomed = [listener for listener in idle if listener.worker == victim]
    await until(lambda: all(listener.closed_at for listener in doomed), EVENT_WAIT)
    fault.notes += [
        f"{listener.name} (on it) closed with {listener.close_code}" for listener in doomed
    ]

    # 3. The idle sockets on the surviving worker: open after a long silence, and live.
    survivors = [listener for listener in idle if listener.worker not in (victim, None)]
    unknown = [listener.name for listener in idle if listener.worker is None]
    if unknown:
        run.notes.append(f"idle sockets whose worker could not be told (not judged): {unknown}")
    if not survivors:
        raise Failure("no idle socket on the surviving worker to judge")
    opened = min(listener.opened for listener in survivors)
    await asyncio.sleep(max(0.0, opened + IDLE_SECONDS - now()))
    for listener in survivors:
        if listener.closed_at is not None:
            run.problems.append(
                f"idle socket {listener.name} on the surviving worker closed after "
                f"{listener.closed_at - listener.opened:.1f} s, code {listener.close_code}"
            )
        elif listener.heard:
            run.problems.append(f"idle socket {listener.name} heard {listener.heard[0][1]}")
    silence = now() - opened
    message = await asyncio.to_thread(
        posts.post, run.tokens["rita"], run.threads["ivy"], "are you still there?"
    )
    if message is None:
        raise Failure("rita's post to ivy was not acknowledged")
    alive = [listener for listener in survivors if listener.closed_at is None]
    await until(
        lambda: all(
            any(event["message"] == message["id"] for event in listener.heard_after(0))
            for listener in alive
        ),
        EVENT_WAIT,
    )
    deaf = [
        listener.name
        for listener in alive
        if not any(event["message"] == message["id"] for event in listener.heard_after(0))
    ]
    if deaf:
        run.problems.append(f"idle sockets {deaf} did not hear the message posted to them")
    run.notes.append(
        f"idle sockets: {len(survivors)} on the surviving worker silent {silence:.0f} s "
        f"(> 3 x REDIS_SOCKET_TIMEOUT {REDIS_SOCKET_TIMEOUT} s), "
        f"{len(alive) - len(deaf)} of them open and hearing the message posted then"
    )

    # 4. Redis goes away and comes back on its port.
    through = [await run.listen(f"through-redis-{i}", "rita") for i in range(2)]
    before = now()
    if not await until(lambda: all(listener.heard_after(before) for listener in through), 5):
        raise Failure("the sockets opened before the Redis outage heard no event")
    since = await asyncio.to_thread(cursor_of, run, "sam")  # sam goes away now
    made: list[tuple[str, int]] = []
    writing: list[float] = []

    def change_sams_threads() -> None:
        writing.append(now())
        made.extend(change_while_down(run))
        writing.append(now())

    fault = await run.outage(
        f"Redis outage (down {REDIS_DOWN} s)", run.redis, REDIS_DOWN, change_sams_threads
    )
    fault.notes.append(
        f"{len(made)} changes to sam's threads made over REST while Redis was down, "
        f"in {writing[1] - writing[0]:.1f} s, Redis back {fault.end - writing[1]:.1f} s after"
    )

    def settled(listener: Listener) -> bool:
        return listener.closed_at is not None or bool(listener.heard_after(fault.end))

    await until(lambda: all(settled(listener) for listener in through), RECOVERY_LIMIT)
    for listener in through:
        if listener.closed_at is not None:
            when = listener.closed_at - fault.start
            fault.notes.append(f"{listener.name} closed with {listener.close_code} at {when:.1f} s")
            if listener.close_code not in ACCEPTED_REDIS_CLOSE_CODES:
                run.problems.append(
                    f"{listener.name}, open through the Redis outage, closed with "
                    f"{listener.close_code}, not 1012 (or 1011)"
                )
        elif listener.heard_after(fault.end):
            fault.notes.append(f"{listener.name} stayed open and hears events")
        else:
            run.problems.append(
                f"{listener.name} is still open after the Redis outage but heard no event "
                f"within {RECOVERY_LIMIT:.0f} s of Redis being back"
            )

    # A new socket hears events again: retried until RECOVERY_WAIT after Redis is back.
    heard_at = None
    for attempt in range(20):
        if heard_at is not None or now() > fault.end + RECOVERY_WAIT:
            break
        try:
            fresh = await run.listen(f"after-redis-{attempt}", "rita")
        except (OSError, websockets.WebSocketException) as error:
            fault.notes.append(f"a new socket could not connect: {error!r}")
            response = getattr(error, "response", None)
            if response is not None and response.status_code >= 500:
                run.problems.append(f"a WebSocket handshake answered {response.status_code}")
            await asyncio.sleep(0.5)
            continue
        heard_at = await first_event(fresh, 3)
        await fresh.close()
    if heard_at is None:
        run.problems.append(f"no new socket heard an event within {RECOVERY_WAIT:.0f} s")
    else:
        fault.notes.append(f"a new socket heard an event {heard_at - fault.end:.1f} s after")
        if heard_at - fault.end > RECOVERY_LIMIT:
            run.problems.append(
                f"a new socket heard events only {heard_at - fault.end:.1f} s after Redis was back"
            )

    # Nothing changed during the outage is missed by a client that syncs, over REST or
    # over a socket: checked once new sockets work again, so the socket's replay is judged
    # and not a connection refused while Redis comes back.
    await check_catch_up(run, fault, since, made)

    # The end: clients finish what they were sending.
    posts.stop.set()
    for client in clients:
        await asyncio.to_thread(client.join, GIVE_UP + REQUEST_TIMEOUT)
    run.load_seconds = now() - started
    if any(client.is_alive() for client in clients):
        run.problems.append("a posting client did not finish")
    for listener in run.listeners:
        await listener.close()
    if run.server.poll() is not None:
        run.problems.append(f"the server exited ({run.server.returncode}) during the run")


def check_database(run: Run, env: dict) -> None:
    """What the clients were told against PostgreSQL: every acknowledged post stored once,
    nothing stored that was not acknowledged (or given up on), counters equal to rows."""
    posts = run.posts
    # Olga's posts in the Redis outage too: each sent once, so one not answered 2xx is
    # like one given up on.
    acked = posts.acked | {
        client_id: {message} for client_id, message in run.sync_posts.items() if message
    }
    tried = posts.tried | run.sync_posts.keys()
    with psycopg.connect(run.pg.url) as conn:
        rows = conn.execute(
            "SELECT client_id::text, array_agg(id) FROM threads_message GROUP BY client_id"
        ).fetchall()
    stored = dict(rows)
    for client_id, ids in acked.items():
        if len(ids) != 1:
            run.problems.append(f"client_id {client_id} answered with messages {sorted(ids)}")
        if sorted(stored.get(client_id, [])) != sorted(ids)[:1]:
            run.problems.append(
                f"client_id {client_id}: acknowledged as {sorted(ids)}, stored as "
                f"{stored.get(client_id, [])}"
            )
    for client_id, ids in stored.items():
        if client_id is None or client_id not in tried:
            run.problems.append(f"{len(ids)} messages stored that no client sent: {client_id}")
        elif client_id not in acked and len(ids) > 1:
            run.problems.append(f"client_id {client_id} (given up) stored {len(ids)} times")
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connections

    try:
        run.problems += counter_problems()
    finally:
        connections.close_all()


def tracebacks(log: str) -> tuple[int, Counter]:
    """How many tracebacks the log holds, and the exceptions they end with."""
    count, endings = 0, Counter()
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if "Traceback (most recent call last)" in line:
            count += 1
            ending = next((rest for rest in lines[i + 1 :] if not rest.startswith(" ")), "?")
            endings[re.split(r"[:(]", ending, maxsplit=1)[0].strip()[:80]] += 1
    return count, endings


def report(run: Run, log: str) -> None:
    posts = run.posts
    outcomes = Counter(attempt.outcome for attempt in posts.attempts)
    answers = {k: v for k, v in outcomes.items() if isinstance(k, int)}
    errors = {k: v for k, v in outcomes.items() if isinstance(k, str)}
    retries = len(posts.attempts) - len(posts.tried)
    print(
        f"faults: {len(posts.acked)} posts acknowledged by {POSTERS} clients in "
        f"{run.load_seconds:.0f} s;"
        f" {len(posts.attempts)} tries ({retries} retries): answers {dict(sorted(answers.items()))}"
        f", connection errors {errors or 0}; 503s seen {outcomes[503]} ({posts.no_retry_after}"
        f" without Retry-After); 500s {outcomes[500]}; given up {len(posts.gave_up)}"
    )
    for fault in run.faults:
        recovered = "never" if fault.recovered is None else f"{fault.recovered:.1f} s"
        during = dict(run.posts.outcomes_between(fault.start, fault.end + 2))
        print(f"  {fault.name}: posts acknowledged again {recovered} after it ended;")
        print(f"    answers during it and 2 s after: {during}")
        for note in fault.notes:
            print(f"    {note}")
    for note in run.notes:
        print(f"  {note}")
    codes = Counter(listener.close_code for listener in run.listeners if not listener.closed_by_us)
    print(f"  WebSocket close codes of sockets the client did not close: {dict(codes)}")
    count, endings = tracebacks(log)
    print(f"  tracebacks in the server log: {count} {dict(endings.most_common(6))}")
    if count > MAX_TRACEBACKS:
        run.problems.append(f"{count} tracebacks in the server log (at most {MAX_TRACEBACKS})")
    for problem in posts.unexpected[:5]:
        run.problems.append(problem)
    if len(posts.unexpected) > 5:
        run.problems.append(f"... and {len(posts.unexpected) - 5} more wrong answers")
    if run.api.statuses[500]:
        run.problems.append(f"{run.api.statuses[500]} requests answered 500")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, help="keep a copy of the server's log here")
    args = parser.parse_args()
    pg_bin, redis_server = postgres_bin(), shutil.which("redis-server")
    missing = [
        name for name, found in (("initdb", pg_bin), ("redis-server", redis_server)) if not found
    ]
    if missing:
        if os.environ.get("CI") == "true":
            print(f"faults: FAILED: {' and '.join(missing)} not found: CI must run this check")
            return 1
        print(f"faults: {' and '.join(missing)} not found here: skipped (CI runs it)")
        return 0

    work = Path(tempfile.mkdtemp(prefix="chat-faults-"))
    state: dict = {}

    def clean_up() -> None:
        if "posts" in state:
            state["posts"].stop.set()
        stop(state.pop("server", None))
        if args.log and (work / "server.log").exists():
            shutil.copy(work / "server.log", args.log)
        if "redis" in state:
            state.pop("redis").stop()
        if "pg" in state:
            state.pop("pg").destroy()
        shutil.rmtree(work, ignore_errors=True)

    atexit.register(clean_up)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # through the clean-up
    try:
        return run_all(pg_bin, redis_server, work, state)
    except (Failure, ServerFailed) as failure:
        print(f"faults: FAILED: {failure}")
        log = work / "server.log"
        if log.exists():
            print(f"--- the server log's end\n{log.read_text()[-3000:]}")
        return 1
    finally:
        clean_up()


def run_all(pg_bin: Path, redis_server: str, work: Path, state: dict) -> int:
    started = now()
    state["pg"] = pg = Postgres(pg_bin)
    pg.init()
    state["redis"] = redis = Redis(redis_server, work)
    redis.start()
    env = production_env(
        DATABASE_URL=pg.url,
        REDIS_URL=redis.url,
        REDIS_SOCKET_TIMEOUT=str(REDIS_SOCKET_TIMEOUT),
        THROTTLE_AUTH_RATE="1000000/minute",
        THROTTLE_MESSAGE_POST_RATE="1000000/minute",
        DJANGO_LOG_LEVEL="WARNING",
    )
    migrated = now()
    migrate(env)
    migrated = now() - migrated
    port = free_port()
    log = work / "server.log"
    state["server"] = server = start_server(env, port=port, workers=WORKERS, log=log)
    api = Api(f"http://127.0.0.1:{port}")
    posters = [f"poster{i}" for i in range(POSTERS)]
    names = [*posters, "rita", "ivy", "sam", "olga", "otto"]

    def account(name: str) -> tuple[str, int]:
        api.call("POST", "/api/user/register/", {"username": name, "password": PASSWORD})
        _, pair = api.call("POST", "/api/token/", {"username": name, "password": PASSWORD})
        return pair["access"], api.call("GET", "/api/user/me/", token=pair["access"])[1]["id"]

    with ThreadPoolExecutor(len(names)) as pool:  # password hashing takes a while
        accounts = dict(zip(names, pool.map(account, names), strict=True))
    tokens = {name: token for name, (token, _) in accounts.items()}
    ids = {name: user_id for name, (_, user_id) in accounts.items()}
    threads, sync_threads = {}, {}
    for name in [*posters, "ivy"]:
        body = {"participants": [ids["rita"]]}
        threads[name] = api.call("POST", "/api/threads/", body, tokens[name])[1]["id"]
    # Sam syncs across the Redis outage: olga posts to him then, otto deletes their thread
    # (a pair has one thread, so the thread deleted is with a third person).
    for name in ("olga", "otto"):
        body = {"participants": [ids["sam"]]}
        sync_threads[name] = api.call("POST", "/api/threads/", body, tokens[name])[1]["id"]
    state["posts"] = posts = Posts(api)
    run = Run(api, posts, pg, redis, server, port, tokens, threads, sync_threads)
    print(
        f"faults: set-up (PostgreSQL, Redis, migrations, server, users) {now() - started:.0f} s"
        f" (migrations {migrated:.0f} s)"
    )

    try:
        asyncio.run(asyncio.wait_for(scenario(run), SCENARIO_LIMIT))
    except TimeoutError:
        raise Failure(f"the faults took more than {SCENARIO_LIMIT:.0f} s") from None
    stop(state.pop("server"))
    check_database(run, env)
    report(run, log.read_text())
    for problem in run.problems:
        print("PROBLEM:", problem)
    print("faults:", "FAILED" if run.problems else "ok", f"({now() - started:.0f} s)")
    return 1 if run.problems else 0


if __name__ == "__main__":
    sys.exit(main())
