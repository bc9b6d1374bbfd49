"""The searches' SQL on the PostgreSQL bench data set (bench/generate.py), per kind of
pattern: median wall time in µs of each statement, in-process. Run it as configured and
with PGOPTIONS='-c plan_cache_mode=force_generic_plan' to compare the planner's choices
(docs/performance.md, "Searches on PostgreSQL").

    .venv/bin/python bench/search_plans.py
    PGOPTIONS='-c plan_cache_mode=force_generic_plan' .venv/bin/python bench/search_plans.py
"""

import os
import sys
from pathlib import Path

DATABASE = os.environ.get("BENCH_POSTGRES_DB", "chat_bench")
os.environ.update(
    DJANGO_SETTINGS_MODULE="chat_project.settings",
    DJANGO_DEBUG="1",
    DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()

from bench.timing import median_seconds  # noqa: E402
from threads import queries  # noqa: E402
from threads.models import Thread  # noqa: E402
from users.models import User  # noqa: E402

heavy = User.objects.get(username="bench0")
big = Thread.objects.get(pk=1)
light = User.objects.get(username="bench1")
patterns = {
    "everywhere (ipsum)": "ipsum",
    "rare (number 123456)": "number 123456",
    "nowhere (zzqx)": "zzqx",
    "2 chars (um)": "um",
}


def timed(call, n=40):
    return median_seconds(call, calls=n, warm_up=8) * 1e6


def measure(pattern: str) -> dict[str, float]:
    """Each search statement's median time for one LIKE pattern."""
    return {
        "big thread page": timed(
            lambda: queries.thread_messages(thread_id=big.pk, pattern=pattern, limit=20)
        ),
        "big thread count": timed(
            lambda: queries.thread_messages_count(thread_id=big.pk, pattern=pattern)
        ),
        "heavy user page": timed(
            lambda: queries.user_messages(user_id=heavy.pk, pattern=pattern, limit=20, offset=0)
        ),
        "heavy user count": timed(
            lambda: queries.user_messages_count(user_id=heavy.pk, pattern=pattern), n=10
        ),
        "light user page": timed(
            lambda: queries.user_messages(user_id=light.pk, pattern=pattern, limit=20, offset=0)
        ),
    }


print("mode:", os.environ.get("PGOPTIONS", "as configured"))
for label, search in patterns.items():
    figures = measure(queries.text_pattern(search))
    print(f"{label:22}", "  ".join(f"{name} {value:8.0f}" for name, value in figures.items()))
