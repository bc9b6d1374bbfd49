"""Integrity under load: nothing accepted is lost or duplicated, and counters stay exact.

Starts the production server (gunicorn, several uvicorn worker processes, debug off) on loopback
against a fresh database, then runs concurrent clients that do what real clients do at
the worst moments:

- both people of a pair create their thread at the same time, several times over;
- messages are posted concurrently, a third of them with a client_id and retried, some of
  the retries in parallel with the original (a flaky network);
- readers mark threads read (all, or `up_to` what they saw) while messages arrive;
- senders edit and delete messages while the other side reads;
- a few threads are deleted while both sides are still posting into them;
- files are uploaded into threads (some of them images), and two messages race for each
  upload: one of them must get it, the other a 409.

Then it checks, against the database: no 5xx; every message answered 201 is stored
exactly once (unless its thread was deleted, which takes its messages along), every retry
answered with the original; no message stored that no client was told about; every
upload answered 201 is stored once with its file (unless its thread was deleted, which
takes its files along), no attachment went to two messages, each is the message's that
won it, and no file is left that no attachment names; one thread
per pair, deleted threads gone with all their messages; each thread's message count, last
message and last activity, and each participant's copy of that activity and unread count,
equal what the messages say; the API's unread totals equal them too; each user's thread
count equals their memberships.

Bounded: a fixed number of requests (about 1,000) and a deadline. Usage:
    python scripts/integrity.py                      # SQLite, in a temporary folder
    python scripts/integrity.py --database postgres  # a throwaway database on 127.0.0.1:5432
"""

import argparse
import hashlib
import io
import json
import os
import random
import secrets
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from email.message import Message
from pathlib import Path

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

USERS = 8
WORKERS = 4
CLIENT_THREADS = 16
POSTS_PER_SENDER = 25
TIME_LIMIT = 240  # seconds the concurrent phase may take before the run fails
DOOMED_THREADS = 2  # threads deleted while their participants are still posting
UPLOADS_PER_USER = 4  # each raced for by two messages


class Failure(AssertionError):
    pass


class Api:
    """A tiny JSON client that records every status code it sees."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()

    def send(
        self, method: str, path: str, body=None, token: str | None = None, timeout: float = 60
    ) -> tuple[int, bytes, Message]:
        """One request, whatever it is answered: status, raw body and headers. A connection
        that fails or times out raises OSError (or http.client.HTTPException)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, raw, headers = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, raw, headers = error.code, error.read(), error.headers
        with self.lock:
            self.statuses[status] += 1
        return status, raw, headers

    def upload(self, path: str, name: str, content: bytes, token: str) -> tuple[int, dict]:
        """A multipart upload of one file in the field `file`; a 5xx raises Failure."""
        boundary = secrets.token_hex(16)
        data = (
            (
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(self.base + path, data=data, method="POST")
        request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        with self.lock:
            self.statuses[status] += 1
        if status >= 500:
            raise Failure(f"POST {path} answered {status}: {raw[:300]!r}")
        return status, json.loads(raw)

    def call(self, method: str, path: str, body=None, token: str | None = None):
        """A request that must not fail: its status and JSON body; a 5xx raises Failure."""
        status, raw, _ = self.send(method, path, body, token)
        if status >= 500:
            raise Failure(f"{method} {path} answered {status}: {raw[:300]!r}")
        return status, (json.loads(raw) if raw else None)


def run_load(api: Api) -> dict:
    """The concurrent workload. Returns what the clients were told."""
    rng = random.Random(7)
    password = "integrity-password-1"
    names = [f"user{i}" for i in range(USERS)]
    for name in names:
        api.call("POST", "/api/user/register/", {"username": name, "password": password})
    tokens, ids = {}, {}
    for name in names:
        _, pair = api.call("POST", "/api/token/", {"username": name, "password": password})
        tokens[name] = pair["access"]
        _, me = api.call("GET", "/api/user/me/", token=pair["access"])
        ids[name] = me["id"]

    # 1. Every pair among the first users creates its thread from both sides at once.
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]][:12]
    creates = [(a, b) for a, b in pairs for _ in range(3)] + [
        (b, a) for a, b in pairs for _ in range(3)
    ]
    rng.shuffle(creates)
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        created = list(
            pool.map(
                lambda ab: api.call(
                    "POST", "/api/threads/", {"participants": [ids[ab[1]]]}, tokens[ab[0]]
                ),
                creates,
            )
        )
    thread_of: dict[frozenset, set[int]] = {}
    for (a, b), (status, row) in zip(creates, created, strict=True):
        if status not in (200, 201):
            raise Failure(f"create {a}->{b}: {status} {row}")
        thread_of.setdefault(frozenset((a, b)), set()).add(row["id"])
    if any(len(found) != 1 for found in thread_of.values()):
        raise Failure(f"a pair was answered with more than one thread: {thread_of}")
    if sum(status == 201 for status, _ in created) != len(pairs):
        raise Failure("not exactly one 201 per pair")
    threads = {pair: next(iter(found)) for pair, found in thread_of.items()}
    doomed = {pair: threads[pair] for pair in list(threads)[:DOOMED_THREADS]}

    # 2. Posts, retries, reads, edits and deletes, all at once.
    told: list[tuple[int, dict]] = []  # (status, message) for every accepted post
    by_client_id: dict[str, set[int]] = {}
    record = threading.Lock()

    def post(
        sender: str, thread_id: int, text: str, client_id: str | None, attachments=()
    ) -> dict | None:
        body = {"text": text} | ({"client_id": client_id} if client_id else {})
        if attachments:
            body["attachments"] = list(attachments)
        status, message = api.call(
            "POST", f"/api/threads/{thread_id}/messages", body, tokens[sender]
        )
        if status == 404 and thread_id in doomed.values():
            return None  # deleted under the sender's feet: refused, nothing to find later
        if status == 409 and attachments and not client_id:
            return None  # another message won the attachment: nothing stored
        if status not in (200, 201):
            raise Failure(f"post: {status} {message}")
        if status == 200 and not client_id:
            raise Failure("a post without client_id answered 200")
        with record:
            told.append((status, message))
            if client_id:
                by_client_id.setdefault(client_id, set()).add(message["id"])
        return message

    def sender_work(sender: str, seed: int) -> None:
        local = random.Random(seed)
        mine = [(pair, tid) for pair, tid in threads.items() if sender in pair]
        for n in range(POSTS_PER_SENDER):
            _, thread_id = local.choice(mine)
            text = f"{sender} #{n} {secrets.token_hex(4)}"
            if local.random() < 1 / 3:
                client_id = str(uuid.uuid4())
                # The original and a retry race each other; a late retry follows.
                with ThreadPoolExecutor(2) as race:
                    attempt = (sender, thread_id, text, client_id)
                    list(race.map(lambda args: post(*args), [attempt, attempt]))
                post(sender, thread_id, text, client_id)
            else:
                message = post(sender, thread_id, text, None)
                if message is None:
                    continue
                roll = local.random()
                if roll < 0.1:
                    api.call(
                        "PATCH",
                        f"/api/threads/{thread_id}/messages/{message['id']}/",
                        {"text": text + " (edited)"},
                        tokens[sender],
                    )
                elif roll < 0.2:
                    api.call(
                        "DELETE",
                        f"/api/threads/{thread_id}/messages/{message['id']}/",
                        token=tokens[sender],
                    )

    def reader_work(reader: str, seed: int) -> None:
        local = random.Random(seed)
        mine = [tid for pair, tid in threads.items() if reader in pair]
        for _ in range(POSTS_PER_SENDER):
            thread_id = local.choice(mine)
            if local.random() < 0.5:
                api.call("PATCH", f"/api/threads/{thread_id}/mark_read", {}, tokens[reader])
            else:
                status, page = api.call(
                    "GET", f"/api/threads/{thread_id}/messages/?limit=5", token=tokens[reader]
                )
                if status == 200 and page["results"]:
                    up_to = page["results"][-1]["id"]
                    api.call(
                        "PATCH",
                        f"/api/threads/{thread_id}/mark_read",
                        {"up_to": up_to},
                        tokens[reader],
                    )
            api.call("GET", "/api/threads/", token=tokens[reader])

    uploads: list[tuple[int, int, str]] = []  # (thread, attachment, sha256) answered 201
    races: list[tuple[int, int, list[int]]] = []  # (thread, attachment, message ids won)

    def uploader_work(uploader: str, seed: int) -> None:
        local = random.Random(seed)
        mine = [tid for pair, tid in threads.items() if uploader in pair]
        for n in range(UPLOADS_PER_USER):
            thread_id = local.choice(mine)
            if n % 2:
                content, name = _png(local), f"photo-{n}.png"
            else:
                content = secrets.token_hex(local.randint(8, 4000)).encode()
                name = f"notes-{n}.txt"
            status, body = api.upload(
                f"/api/threads/{thread_id}/attachments", name, content, tokens[uploader]
            )
            if status == 404 and thread_id in doomed.values():
                continue
            if status != 201:
                raise Failure(f"upload: {status} {body}")
            digest = hashlib.sha256(content).hexdigest() if name.endswith(".txt") else ""
            with record:
                uploads.append((thread_id, body["id"], digest))
            # Two messages want the same file at once: one gets it, the other a 409.
            attempts = [f"{uploader} file {n} {side}" for side in "ab"]
            with ThreadPoolExecutor(2) as race:
                sent = list(
                    race.map(
                        lambda text, attachment=body["id"], thread=thread_id: post(
                            uploader, thread, text, None, [attachment]
                        ),
                        attempts,
                    )
                )
            won = [message["id"] for message in sent if message is not None]
            with record:
                races.append((thread_id, body["id"], won))

    def deleter_work(pair: frozenset, _seed: int) -> None:
        time.sleep(1.0)  # well into the posting
        status, _ = api.call("DELETE", f"/api/threads/{doomed[pair]}/", token=tokens[min(pair)])
        if status != 204:
            raise Failure(f"deleting thread {doomed[pair]}: {status}")

    # Deleters first, so they run alongside the others (they wait a second, then delete).
    jobs = [(deleter_work, pair, 0) for pair in doomed]
    jobs += [(sender_work, name, i) for i, name in enumerate(names)]
    jobs += [(reader_work, name, 100 + i) for i, name in enumerate(names)]
    jobs += [(uploader_work, name, 200 + i) for i, name in enumerate(names)]
    pool = ThreadPoolExecutor(len(jobs))
    futures = [pool.submit(fn, arg, seed) for fn, arg, seed in jobs]
    done, late = wait(futures, timeout=TIME_LIMIT)
    pool.shutdown(wait=not late, cancel_futures=True)
    if late:
        raise Failure(f"{len(late)} client jobs were still running after {TIME_LIMIT} s")
    for future in done:
        future.result()  # re-raises a client's Failure

    # 3. What the API says each user has waiting, after everything settled.
    unread_said = {
        ids[name]: api.call("GET", "/api/threads/unread_count/", token=tokens[name])[1][
            "unread_count"
        ]
        for name in names
    }
    return {
        "told": told,
        "by_client_id": by_client_id,
        "threads": threads,
        "ids": ids,
        "unread_said": unread_said,
        "pairs": len(pairs),
        "doomed": set(doomed.values()),
        "uploads": uploads,
        "races": races,
    }


def _png(rng: random.Random) -> bytes:
    """A small PNG of random size and colour (decoded, cleaned and thumbnailed by the server)."""
    from PIL import Image

    output = io.BytesIO()
    size = (rng.randint(8, 400), rng.randint(8, 400))
    Image.new("RGB", size, (rng.randrange(256), 80, 160)).save(output, format="PNG")
    return output.getvalue()


def check_database(env: dict, outcome: dict) -> list[str]:
    """Compare what clients were told with what the database holds."""
    os.environ.update(env)
    import django

    django.setup()
    from django.db.models import Count

    from threads.models import Message, Thread

    problems = []
    doomed = outcome["doomed"]
    accepted = {
        message["id"]
        for status, message in outcome["told"]
        if status == 201 and message["thread"] not in doomed
    }
    stored = Counter(Message.objects.values_list("id", flat=True))
    if set(stored) != accepted:
        problems.append(
            f"stored and accepted messages differ: {len(set(stored) - accepted)} stored but "
            f"never answered 201, {len(accepted - set(stored))} answered 201 but missing"
        )
    in_doomed = {m["id"] for _, m in outcome["told"] if m["thread"] in doomed}
    for client_id, message_ids in outcome["by_client_id"].items():
        if len(message_ids) != 1:
            problems.append(f"client_id {client_id} answered with {len(message_ids)} messages")
        expected = 0 if message_ids <= in_doomed else 1
        if Message.objects.filter(client_id=client_id).count() != expected:
            problems.append(f"client_id {client_id} not stored exactly {expected} time(s)")
    if (
        Thread.objects.filter(pk__in=doomed).exists()
        or Message.objects.filter(thread_id__in=doomed).exists()
    ):
        problems.append("a deleted thread, or one of its messages, is still there")
    if Thread.objects.count() != outcome["pairs"] - len(doomed):
        problems.append(f"{Thread.objects.count()} threads for {outcome['pairs']} pairs")
    if Thread.objects.annotate(n=Count("memberships")).exclude(n=2).exists():
        problems.append("a thread without exactly two participants")
    problems += counter_problems()
    problems += attachment_problems(env, outcome)
    for user_id, said in outcome["unread_said"].items():
        waiting = (
            Message.objects.filter(
                thread__memberships__user_id=user_id, is_read=False, deleted__isnull=True
            )
            .exclude(sender_id=user_id)
            .count()
        )
        if said != waiting:
            problems.append(f"user {user_id}: the API said {said} unread, messages say {waiting}")
    return problems


def attachment_problems(env: dict, outcome: dict) -> list[str]:
    """Every upload answered 201 stored once with its file (unless its thread went), each
    raced-for upload won by exactly one message and stored as that message's, no
    attachment in two accepted messages, and no stored file that no attachment names."""
    from threads.models import Attachment

    problems = []
    doomed = outcome["doomed"]
    rows = {row.pk: row for row in Attachment.objects.all()}
    for thread_id, attachment_id, digest in outcome["uploads"]:
        row = rows.get(attachment_id)
        if thread_id in doomed:
            if row is not None:
                problems.append(f"attachment {attachment_id} outlived its deleted thread")
        elif row is None:
            problems.append(f"upload {attachment_id} was answered 201 but is not stored")
        elif digest and row.sha256 != digest:
            problems.append(f"attachment {attachment_id}: stored bytes differ from the upload")
    for thread_id, attachment_id, won in outcome["races"]:
        if thread_id in doomed:
            continue
        if len(won) != 1:
            problems.append(f"attachment {attachment_id} went to {len(won)} messages: {won}")
        elif rows.get(attachment_id) and rows[attachment_id].message_id != won[0]:
            problems.append(f"attachment {attachment_id} is not the winning message's")
    claimed = Counter(
        file["id"]
        for status, message in outcome["told"]
        if status == 201
        for file in message.get("attachments", [])
    )
    problems += [f"attachment {i} answered in {n} messages" for i, n in claimed.items() if n > 1]
    media = Path(env["DJANGO_MEDIA_ROOT"])
    on_disk = {str(path.relative_to(media)) for path in media.rglob("*") if path.is_file()}
    named = {name for row in rows.values() for name in (row.file, row.thumbnail) if name}
    if named - on_disk:
        problems.append(f"{len(named - on_disk)} stored attachments have no file")
    if on_disk - named:
        problems.append(f"{len(on_disk - named)} files are left that no attachment names")
    return problems


def counter_problems() -> list[str]:
    """Every stored counter against the rows it counts (Django set up by the caller): each
    thread's message count, last message and activity, each participant's copy of that
    activity and unread count, each user's thread count."""
    from django.db.models import Count, Max, Q

    from threads.models import Inbox, Message, Participant, Thread
    from users.models import User

    problems = []
    for thread in Thread.objects.annotate(n=Count("messages"), newest=Max("messages__id")):
        if (thread.message_count, thread.last_message_id) != (thread.n, thread.newest):
            problems.append(
                f"thread {thread.pk}: counters say {thread.message_count} messages, last "
                f"{thread.last_message_id}; messages say {thread.n}, last {thread.newest}"
            )
        newest = Message.objects.filter(pk=thread.newest).values_list("created", flat=True)
        activity = newest.first() if thread.newest else thread.created
        if thread.updated != activity:
            problems.append(f"thread {thread.pk}: updated {thread.updated}, activity {activity}")
        if Participant.objects.filter(thread=thread).exclude(updated=thread.updated).exists():
            problems.append(f"thread {thread.pk}: a participant's activity differs")
    for member in Participant.objects.all():
        waiting = Message.objects.filter(
            ~Q(sender_id=member.user_id),
            thread_id=member.thread_id,
            is_read=False,
            deleted__isnull=True,
        ).count()
        if member.unread_count != waiting:
            problems.append(
                f"user {member.user_id} in thread {member.thread_id}: unread_count "
                f"{member.unread_count}, messages say {waiting}"
            )
    counted = dict(Inbox.objects.values_list("user_id", "thread_count"))
    for user_id, memberships in User.objects.annotate(n=Count("memberships")).values_list(
        "pk", "n"
    ):
        if counted.get(user_id, 0) != memberships:
            problems.append(
                f"user {user_id}: thread_count {counted.get(user_id, 0)}, memberships {memberships}"
            )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="chat-integrity-"))
    env = production_env(
        THROTTLE_AUTH_RATE="1000000/minute",
        THROTTLE_MESSAGE_POST_RATE="1000000/minute",
        THROTTLE_WRITE_RATE="1000000/minute",
        DJANGO_LOG_LEVEL="ERROR",
        DJANGO_MEDIA_ROOT=str(work / "media"),
    )
    with throwaway_database(args.database, work, "chat_integrity") as database_url:
        env["DATABASE_URL"] = database_url
        return run(env, work, args.database)


def run(env: dict, work: Path, database: str) -> int:
    server = None
    try:
        migrate(env)
        port = free_port()
        server = start_server(env, port=port, workers=WORKERS, log=work / "server.log")
        api = Api(f"http://127.0.0.1:{port}")
        started = time.monotonic()
        outcome = run_load(api)
        elapsed = time.monotonic() - started
        stop(server)
        log = (work / "server.log").read_text()
        problems = check_database(env, outcome)
        if "Traceback" in log:
            problems.append(
                "the server logged a traceback:\n" + log[log.index("Traceback") :][:3000]
            )
        if "database is locked" in log:
            problems.append("SQLite answered 'database is locked'")
        total = sum(api.statuses.values())
        statuses = dict(sorted(api.statuses.items()))
        print(
            f"{database}: {total} requests by {CLIENT_THREADS} concurrent clients to "
            f"{WORKERS} uvicorn workers in {elapsed:.1f} s; statuses {statuses}; "
            f"{len({m['id'] for s, m in outcome['told'] if s == 201})} messages accepted, "
            f"{sum(s == 200 for s, _ in outcome['told'])} retries answered with the original, "
            f"{len(outcome['uploads'])} uploads, each raced for by two messages"
        )
        for problem in problems:
            print("PROBLEM:", problem)
        print("integrity:", "FAILED" if problems else "ok")
        return 1 if problems else 0
    except (Failure, ServerFailed) as failure:
        print("integrity: FAILED:", failure)
        return 1
    finally:
        stop(server)


if __name__ == "__main__":
    sys.exit(main())
