"""All of a user's messages without a search (`/api/messages/`), the statements alone:
median wall time in ms of the first page of 50, the page at offset 500 and the count, for
the bench data set's heavy user (5,000 threads) and light user (5), in-process
(docs/performance.md, "All of a user's messages").

    .venv/bin/python bench/user_messages.py --database postgres
    .venv/bin/python bench/user_messages.py --database sqlite
"""

import argparse
import os
import sys
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--calls", type=int, default=40)
    args = parser.parse_args()
    postgres = (
        f"postgres://postgres@127.0.0.1:5432/{os.environ.get('BENCH_POSTGRES_DB', 'chat_bench')}"
    )
    os.environ.update(
        DJANGO_SETTINGS_MODULE="chat_project.settings",
        DJANGO_DEBUG="1",
        DATABASE_URL=postgres
        if args.database == "postgres"
        else f"sqlite:///{ROOT / 'bench' / 'data' / 'bench.sqlite3'}",
    )
    import django

    django.setup()
    from bench.timing import median_seconds
    from threads import queries
    from users.models import User

    for username, who in (("bench0", "heavy user (5,000 threads)"), ("bench1", "light user (5)")):
        user = User.objects.get(username=username).pk
        figures = {
            "first page of 50": partial(
                queries.user_messages, user_id=user, pattern=None, limit=50, offset=0
            ),
            "offset 500": partial(
                queries.user_messages, user_id=user, pattern=None, limit=50, offset=500
            ),
            "count": partial(queries.user_messages_count, user_id=user, pattern=None),
        }
        shown = "  ".join(
            f"{name}: {median_seconds(call, calls=args.calls, warm_up=8) * 1000:7.1f} ms"
            for name, call in figures.items()
        )
        print(f"{args.database} {who:28} {shown}")


if __name__ == "__main__":
    main()
