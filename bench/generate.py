"""Build the benchmark data set in bulk.

    python bench/generate.py --database sqlite      # bench/data/bench.sqlite3
    python bench/generate.py --database postgres    # database chat_bench on 127.0.0.1:5432

BENCH_POSTGRES_DB names another PostgreSQL database (for several checkouts on one server).

Shape (the issue's floor): 10,000 users, 100,000 threads, 2,000,000 messages, skewed:
- `heavy` takes part in 5,000 threads, `light` in 5: the thread list is measured for both;
- one thread between `heavy` and `partner` holds 200,000 messages: the message list is
  measured on its first page and on a page 199,000 messages deep;
- the other threads share the rest, most of them short and a few long (log-normal), and
  in about a third of them the newest few messages are still unread.

Rows go in through multi-row INSERTs (no model instances); the denormalised counters are
then computed by `thread_counters_rebuild`, the same code that repairs them in production.
Writes bench/data/<database>.json with the ids the load driver needs.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
PASSWORD = "bench-password-1"

USERS = 10_000
THREADS = 100_000
MESSAGES = 2_000_000
HEAVY_THREADS = 5_000
LIGHT_THREADS = 5
BIG_THREAD_MESSAGES = 200_000


def postgres_name() -> str:
    return os.environ.get("BENCH_POSTGRES_DB", "chat_bench")


def database_url(database: str) -> str:
    if database == "postgres":
        return f"postgres://postgres@127.0.0.1:5432/{postgres_name()}"
    return f"sqlite:///{DATA / 'bench.sqlite3'}"


def prepare(database: str) -> None:
    """A fresh, migrated database."""
    DATA.mkdir(parents=True, exist_ok=True)
    if database == "postgres":
        for command in ("dropdb --if-exists --force", "createdb"):
            subprocess.run(
                [*command.split(), "-h", "127.0.0.1", "-U", "postgres", postgres_name()],
                check=True,
            )
    else:
        for suffix in ("", "-wal", "-shm"):
            (DATA / f"bench.sqlite3{suffix}").unlink(missing_ok=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)


def build(database: str) -> dict:
    os.environ["DATABASE_URL"] = database_url(database)
    os.environ.setdefault("DJANGO_DEBUG", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "chat_project.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    from chat_project.rawsql import insert_rows
    from threads.models import Message, Participant, Thread
    from threads.services import thread_counters_rebuild
    from users.models import User

    rng = random.Random(2026)
    to_db = connection.ops.adapt_datetimefield_value
    start = datetime(2026, 1, 1, tzinfo=UTC)
    stamps: dict[str, float] = {}

    def step(name: str, began: float) -> None:
        stamps[name] = round(time.monotonic() - began, 1)
        print(f"  {name}: {stamps[name]} s", flush=True)

    with transaction.atomic():
        began = time.monotonic()
        hashed = make_password(PASSWORD)
        insert_rows(
            User._meta.db_table,
            [
                "username",
                "password",
                "first_name",
                "last_name",
                "email",
                "is_staff",
                "is_active",
                "is_superuser",
                "date_joined",
            ],
            (
                (f"bench{i}", hashed, "", "", "", False, True, False, to_db(start))
                for i in range(USERS)
            ),
        )
        user_ids = list(
            User.objects.filter(username__startswith="bench")
            .order_by("id")
            .values_list("id", flat=True)
        )
        heavy, light = user_ids[0], user_ids[1]  # bench2 is the big thread's partner
        step("users", began)

        began = time.monotonic()
        pairs = [(heavy, user_ids[2 + i]) for i in range(HEAVY_THREADS)]
        pairs += [(light, user_ids[2 + HEAVY_THREADS + i]) for i in range(LIGHT_THREADS)]
        others = user_ids[2:]
        seen = {tuple(sorted(p)) for p in pairs}
        while len(pairs) < THREADS:
            a, b = rng.sample(others, 2)
            key = (min(a, b), max(a, b))
            if key not in seen:
                seen.add(key)
                pairs.append((a, b))
        insert_rows(
            Thread._meta.db_table,
            ["pair_key", "created", "updated", "message_count"],
            ((Thread.pair_key_for(a, b), to_db(start), to_db(start), 0) for a, b in pairs),
        )
        ids_by_key = dict(Thread.objects.values_list("pair_key", "id"))
        thread_ids = [ids_by_key[Thread.pair_key_for(a, b)] for a, b in pairs]
        insert_rows(
            Participant._meta.db_table,
            ["thread_id", "user_id", "updated", "unread_count"],
            (
                (tid, user, to_db(start), 0)
                for tid, pair in zip(thread_ids, pairs, strict=True)
                for user in pair
            ),
        )
        big_thread = thread_ids[0]  # heavy and partner
        step("threads", began)

        # Message counts: the big thread, then a log-normal share of the rest, at least one each.
        weights = [rng.lognormvariate(0, 1.2) for _ in range(THREADS - 1)]
        scale = (MESSAGES - BIG_THREAD_MESSAGES - (THREADS - 1)) / sum(weights)
        counts = [BIG_THREAD_MESSAGES] + [1 + int(w * scale) for w in weights]
        counts[1] += MESSAGES - sum(counts)

        def rows():
            for tid, (a, b), count in zip(thread_ids, pairs, counts, strict=True):
                moment = start + timedelta(seconds=rng.uniform(0, 3_000_000))
                unread_tail = rng.choice((0, 0, 1, 2, 3)) if tid != big_thread else 0
                sender = a
                for n in range(count):
                    if rng.random() < 0.6:
                        sender = b if sender == a else a
                    moment += timedelta(seconds=rng.uniform(1, 120))
                    yield (
                        tid,
                        sender,
                        f"Lorem ipsum dolor sit amet, message number {n}",
                        to_db(moment),
                        n < count - unread_tail,
                    )

        began = time.monotonic()
        insert_rows(
            Message._meta.db_table,
            ["thread_id", "sender_id", "text", "created", "is_read"],
            rows(),
        )
        step("messages", began)

    began = time.monotonic()
    for i in range(0, len(thread_ids), 5000):
        thread_counters_rebuild(thread_ids=thread_ids[i : i + 5000])
    step("counters", began)

    # Fresh statistics for the planner, and on PostgreSQL a visibility map, without which
    # index-only scans (counting a user's threads) visit every row anyway.
    began = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    step("analyze", began)

    big_ids = list(
        Message.objects.filter(thread_id=big_thread)
        .order_by("-id")
        .values_list("id", flat=True)[199_000:199_001]
    )
    meta = {
        "database": database,
        "heavy_user": "bench0",
        "light_user": "bench1",
        "partner_user": "bench2",
        "password": PASSWORD,
        "big_thread": big_thread,
        "deep_before": big_ids[0],
        "users": USERS,
        "threads": THREADS,
        "messages": MESSAGES,
        "seconds": stamps,
    }
    (DATA / f"{database}.json").write_text(json.dumps(meta, indent=2))
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = database_url(args.database)
    os.environ.setdefault("DJANGO_DEBUG", "1")
    print(f"preparing {args.database}...", flush=True)
    prepare(args.database)
    meta = build(args.database)
    print(json.dumps(meta, indent=2))


if __name__ == "__main__":
    main()
