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
- then both people of several pairs react to the same messages at once: adding and taking
  back the same emoji (some adds sent twice at once), crowding one message with more
  different emoji than it may carry, and reacting to a message while its sender deletes
  it.

Then it checks, against the database: no 5xx; every message answered 201 is stored
exactly once (unless its thread was deleted, which takes its messages along), every retry
answered with the original; no message stored that no client was told about; every
upload answered 201 is stored once with its file (unless its thread was deleted, which
takes its files along), no attachment went to two messages, each is the message's that
won it, and no file is left that no attachment names; one thread
per pair, deleted threads gone with all their messages; each thread's message count, last
message and last activity, and each participant's copy of that activity and unread count,
equal what the messages say; the API's unread totals equal them too; each user's thread
count equals their memberships. Reactions: each answer was the one the reactions before it
imply (201 new, 200 already there, 204 taken back, 404 not there; 409 only past the limit
of different emoji or on a deleted message); each message's stored reactions are exactly
what the acknowledged requests left, once each, never more different emoji than allowed
(and exactly that many when one was refused), none on a deleted message; and the API
shows them to each participant as stored, `me` included. Change logs: each person's
cursors run 1, 2, 3, ... without a gap; every message answered 201 is in both its
participants' logs exactly once, and nothing else is; each person's messages of a thread
are logged in the order they were posted (the order the changes committed).

Bounded: a fixed number of requests (about 1,500) and a deadline. Usage:
    python scripts/integrity.py                      # SQLite, in a temporary folder
    python scripts/integrity.py --database postgres  # a throwaway database on 127.0.0.1:5432
    python scripts/integrity.py --port 8102          # the server on that port (default: a free one)
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
import urllib.parse
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
REACTING_THREADS = 6  # threads whose two people react at once
TOGGLES = 12  # reaction changes per person on a message both toggle
# Emoji both people of a pair add and take back on one message, several code points
# each for some (a ZWJ sequence with a skin tone, a flag, a keycap).
TOGGLED = ["👍", "❤️", "😂", "👩🏽‍💻", "🇫🇷", "1️⃣"]
# More different emoji than a message may carry (20): each person adds 13, 4 in common.
CROWD = [
    "😀", "😃", "😄", "😁", "😆", "😅", "🤣", "😊", "😇", "🙂", "🙃", "😉", "😌",
    "😍", "🥰", "😘", "😗", "😙", "😚", "😋", "😛", "😝",
]  # fmt: skip
CROWDERS = (CROWD[:13], CROWD[9:])


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

    # 3. Reactions, all at once.
    started = time.monotonic()
    reacted = react_at_once(api, tokens, ids, threads, set(doomed.values()))
    reacted["seconds"] = time.monotonic() - started
    told.extend((201, message) for message in reacted["posted"])

    # 4. What the API says each user has waiting, after everything settled.
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
        "reacted": reacted,
    }


def react_at_once(api: Api, tokens: dict, ids: dict, threads: dict, doomed: set) -> dict:
    """Both people of REACTING_THREADS pairs react at once, on three fresh messages per
    thread: one both toggle the same emoji on, one both crowd past the limit, one whose
    sender deletes it meanwhile. Returns what must be stored and what the API shows."""
    problems: list[str] = []
    record = threading.Lock()
    toggled: dict[int, set[tuple[int, str]]] = {}  # message: {(user id, emoji)} left on it
    crowded: dict[int, dict] = {}  # message: {"accepted": {(user, emoji)}, "refused": ...}
    deleted_messages: list[int] = []
    posted: list[dict] = []
    readers: dict[int, tuple[int, list[str]]] = {}  # message: (thread, its two people)

    def url(thread_id: int, message_id: int, emoji: str) -> str:
        path = f"/api/threads/{thread_id}/messages/{message_id}/reactions/"
        return path + urllib.parse.quote(emoji)

    def reaction(method: str, thread_id: int, message_id: int, emoji: str, user: str):
        return api.call(method, url(thread_id, message_id, emoji), token=tokens[user])

    def twice_at_once(thread_id: int, message_id: int, emoji: str, user: str) -> list:
        """The same PUT sent twice at once (a retry racing its original)."""
        with ThreadPoolExecutor(2) as race:
            return list(
                race.map(lambda _: reaction("PUT", thread_id, message_id, emoji, user), [0, 1])
            )

    def expect(what: str, got, wanted) -> None:
        if got != wanted:
            with record:
                problems.append(f"{what}: answered {got}, expected {wanted}")

    def toggler(thread_id: int, message_id: int, user: str, seed: int) -> None:
        # Only this job touches this user's reactions on the message, so each answer is
        # known in advance from the ones before, whatever the other person does meanwhile.
        local = random.Random(seed)
        mine: set[str] = set()
        for _ in range(TOGGLES):
            emoji = local.choice(TOGGLED)
            what = f"{user} on message {message_id} with {emoji}"
            roll = local.random()
            if roll < 0.2:
                statuses = sorted(s for s, _ in twice_at_once(thread_id, message_id, emoji, user))
                expect(f"PUT twice at once, {what}", statuses, [200, 200 if emoji in mine else 201])
                mine.add(emoji)
            elif roll < 0.6:
                status, _ = reaction("PUT", thread_id, message_id, emoji, user)
                expect(f"PUT {what}", status, 200 if emoji in mine else 201)
                mine.add(emoji)
            else:
                status, _ = reaction("DELETE", thread_id, message_id, emoji, user)
                expect(f"DELETE {what}", status, 204 if emoji in mine else 404)
                mine.discard(emoji)
        with record:
            toggled.setdefault(message_id, set()).update((ids[user], e) for e in mine)

    def crowder(thread_id: int, message_id: int, user: str, emojis: list, seed: int) -> None:
        local = random.Random(seed)
        accepted, refused = set(), set()
        for emoji in emojis:
            if local.random() < 0.25:
                answers = twice_at_once(thread_id, message_id, emoji, user)
            else:
                answers = [reaction("PUT", thread_id, message_id, emoji, user)]
            statuses = sorted(status for status, _ in answers)
            if statuses in ([201], [200, 201]):
                accepted.add((ids[user], emoji))
            elif set(statuses) == {409} and all(
                body["code"] == "too_many_reactions" for _, body in answers
            ):
                refused.add((ids[user], emoji))
            else:
                expect(f"crowding message {message_id}, {user} with {emoji}", statuses, [201])
        with record:
            entry = crowded.setdefault(message_id, {"accepted": set(), "refused": set()})
            entry["accepted"] |= accepted
            entry["refused"] |= refused

    def reacting_while_deleted(thread_id: int, message_id: int, user: str, seed: int) -> list:
        local = random.Random(seed)
        answers = []
        for _ in range(TOGGLES):
            emoji = local.choice(TOGGLED)
            method = "PUT" if local.random() < 0.7 else "DELETE"
            started = time.monotonic()
            status, body = reaction(method, thread_id, message_id, emoji, user)
            answers.append((method, started, status, body))
        return answers

    def deleter(thread_id: int, message_id: int, user: str) -> float:
        time.sleep(0.15)  # into the reacting
        path = f"/api/threads/{thread_id}/messages/{message_id}/"
        status, _ = api.call("DELETE", path, token=tokens[user])
        expect(f"deleting message {message_id}", status, 204)
        return time.monotonic()

    live = [(sorted(pair), tid) for pair, tid in threads.items() if tid not in doomed]
    jobs = []
    for n, ((first, second), thread_id) in enumerate(live[:REACTING_THREADS]):
        fresh = []
        for text in ("toggled", "crowded", "deleted"):
            status, message = api.call(
                "POST", f"/api/threads/{thread_id}/messages", {"text": text}, tokens[first]
            )
            if status != 201:
                raise Failure(f"post before reacting: {status} {message}")
            fresh.append(message["id"])
            posted.append(message)
        toggle_id, crowd_id, doomed_id = fresh
        for message_id in (toggle_id, crowd_id):
            readers[message_id] = (thread_id, [first, second])
        deleted_messages.append(doomed_id)
        seed = 1000 + 10 * n
        jobs += [
            (toggler, thread_id, toggle_id, first, seed),
            (toggler, thread_id, toggle_id, second, seed + 1),
            (crowder, thread_id, crowd_id, first, CROWDERS[0], seed + 2),
            (crowder, thread_id, crowd_id, second, CROWDERS[1], seed + 3),
            (reacting_while_deleted, thread_id, doomed_id, second, seed + 4),
            (deleter, thread_id, doomed_id, first),
        ]
    with ThreadPoolExecutor(len(jobs)) as pool:  # every job at once
        futures = [pool.submit(job, *args) for job, *args in jobs]
        done, late = wait(futures, timeout=TIME_LIMIT)
        if late:
            raise Failure(f"{len(late)} reaction jobs were still running after {TIME_LIMIT} s")
        results = [future.result() for future in futures]

    # Reactions on a message being deleted: before the delete anything goes; once its 204
    # was answered, every add started after it is refused as deleted.
    for (job, *args), result in zip(jobs, results, strict=True):
        if job is not reacting_while_deleted:
            continue
        deleted_at = next(
            r
            for (j, _, m, *_), r in zip(jobs, results, strict=True)
            if j is deleter and m == args[1]
        )
        for method, started, status, body in result:
            if status not in (200, 201, 204, 404, 409):
                problems.append(f"{method} on message {args[1]} while deleted: {status} {body}")
            elif status == 409 and body["code"] != "message_deleted":
                problems.append(f"{method} on message {args[1]} while deleted: {body}")
            elif method == "PUT" and started > deleted_at and status != 409:
                problems.append(f"PUT on message {args[1]} after its delete answered {status}")

    # What each participant is shown, to compare with the rows.
    shown = {}
    for message_id, (thread_id, people) in readers.items():
        for person in people:
            _, page = api.call(
                "GET", f"/api/threads/{thread_id}/messages/?limit=20", token=tokens[person]
            )
            row = next(row for row in page["results"] if row["id"] == message_id)
            shown[(ids[person], message_id)] = row["reactions"]
    return {
        "problems": problems,
        "toggled": toggled,
        "crowded": crowded,
        "deleted": deleted_messages,
        "shown": shown,
        "posted": posted,
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

    from threads.models import Message, Reaction, Thread

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
    problems += reaction_problems(outcome["reacted"])
    problems += change_log_problems({message["id"] for _, message in outcome["told"]})
    outcome["reactions_left"] = Reaction.objects.count()
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


def change_log_problems(answered: set[int]) -> list[str]:
    """Each person's cursors without a gap; every message answered to a client logged once
    for each participant and nothing more; a thread's messages logged in posting order."""
    from django.db.models import Count, Max

    from threads.models import Change

    problems = []
    for row in Change.objects.values("user").annotate(n=Count("id"), top=Max("cursor")):
        if row["n"] != row["top"]:
            problems.append(f"user {row['user']}: {row['n']} changes up to cursor {row['top']}")
    created = Change.objects.filter(kind="message.created")
    logged = {
        row["message_id"]: (row["n"], row["people"])
        for row in created.values("message_id").annotate(
            n=Count("id"), people=Count("user", distinct=True)
        )
    }
    if set(logged) != answered:
        problems.append(
            f"logged and answered messages differ: {len(set(logged) - answered)} logged but "
            f"never answered, {len(answered - set(logged))} answered but not logged"
        )
    twice = [message for message, counts in logged.items() if counts != (2, 2)]
    if twice:
        problems.append(f"messages not logged once for each participant: {twice[:10]}")
    last: dict[tuple[int, int], int] = {}
    for user_id, thread_id, message_id in created.order_by("user", "cursor").values_list(
        "user", "thread_id", "message_id"
    ):
        if message_id < last.get((user_id, thread_id), 0):
            problems.append(f"user {user_id}: message {message_id} logged after a newer one")
        last[(user_id, thread_id)] = message_id
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


def reaction_problems(reacted: dict) -> list[str]:
    """The stored reactions against what the acknowledged requests left (Django set up by
    the caller)."""
    from django.db.models import Count

    from threads.models import MAX_DISTINCT_REACTIONS, Message, Reaction

    problems = list(reacted["problems"])

    def stored(message_id: int) -> set[tuple[int, str]]:
        return set(Reaction.objects.filter(message_id=message_id).values_list("user_id", "emoji"))

    for message_id, expected in reacted["toggled"].items():
        if stored(message_id) != expected:
            problems.append(
                f"message {message_id}: reactions {sorted(stored(message_id))}, the answers "
                f"left {sorted(expected)}"
            )
    for message_id, answers in reacted["crowded"].items():
        rows = stored(message_id)
        different = len({emoji for _, emoji in rows})
        if rows != answers["accepted"]:
            problems.append(
                f"message {message_id}: {len(rows)} reactions stored, "
                f"{len(answers['accepted'])} accepted"
            )
        if answers["refused"] and different != MAX_DISTINCT_REACTIONS:
            problems.append(f"message {message_id}: refused at {different} different emoji")
    doubled = (
        Reaction.objects.values("message", "user", "emoji").annotate(n=Count("id")).filter(n__gt=1)
    )
    if doubled.exists():
        problems.append(f"reactions stored twice: {list(doubled)}")
    crowded = (
        Reaction.objects.values("message")
        .annotate(n=Count("emoji", distinct=True))
        .filter(n__gt=MAX_DISTINCT_REACTIONS)
    )
    if crowded.exists():
        problems.append(f"messages past the limit of different emoji: {list(crowded)}")
    on_deleted = Reaction.objects.filter(message__deleted__isnull=False)
    if on_deleted.exists():
        problems.append(f"{on_deleted.count()} reactions on deleted messages")
    if Message.objects.filter(pk__in=reacted["deleted"], deleted__isnull=True).exists():
        problems.append("a message deleted while reacted to is not deleted")
    for (reader_id, message_id), shown in reacted["shown"].items():
        summary: dict[str, dict] = {}
        for emoji, user_id in (
            Reaction.objects.filter(message_id=message_id)
            .order_by("id")
            .values_list("emoji", "user_id")
        ):
            entry = summary.setdefault(emoji, {"emoji": emoji, "count": 0, "me": False})
            entry["count"] += 1
            entry["me"] = entry["me"] or user_id == reader_id
        if shown != list(summary.values()):
            problems.append(
                f"user {reader_id} was shown {shown} on message {message_id}, rows say "
                f"{list(summary.values())}"
            )
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--port", type=int, help="the server's port (default: a free one)")
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
        return run(env, work, args.database, args.port)


def run(env: dict, work: Path, database: str, port: int | None = None) -> int:
    server = None
    try:
        migrate(env)
        port = port or free_port()
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
            f"{len(outcome['uploads'])} uploads, each raced for by two messages, "
            f"{outcome['reactions_left']} reactions left on "
            f"{len(outcome['reacted']['shown']) // 2 + len(outcome['reacted']['deleted'])} "
            f"messages reacted to at once (in {outcome['reacted']['seconds']:.1f} s)"
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
