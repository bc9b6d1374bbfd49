"""What the Prometheus metrics cost a request (chat_project/metrics.py), in-process.

    python bench/metrics_overhead.py [--calls 5000]
    PROMETHEUS_MULTIPROC_DIR=$(mktemp -d) python bench/metrics_overhead.py   # make serve's mode
    python bench/metrics_overhead.py --with-request-ids   # the request ids' middleware too

On a throwaway SQLite database (migrated at the start, a few seconds): alice's first
message page of 20 through Django's test client (the whole middleware chain, no HTTP
server), with MetricsMiddleware in MIDDLEWARE and without it, one request of each in
turn; each figure is the median CPU time of a request. Then the middleware's
own bookkeeping alone (`record_request`: the label look-up, a counter and a histogram
update), timed over many calls, which the whole-request difference is too noisy to show.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="requests with and without")
    parser.add_argument(
        "--with-request-ids",
        action="store_true",
        help="leave out the request ids' middleware (and the session user's) too",
    )
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="metrics-bench-")
    os.environ.update(
        DJANGO_SETTINGS_MODULE="chat_project.settings",
        DJANGO_SECRET_KEY="bench-" + "x" * 50,
        DJANGO_SECURE_SSL_REDIRECT="0",
        DATABASE_URL=f"sqlite:///{work}/db.sqlite3",
        DJANGO_ALLOWED_HOSTS="testserver",
        DJANGO_LOG_LEVEL="ERROR",
    )
    warnings.filterwarnings("ignore", "No directory at")  # WhiteNoise: no collectstatic here
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.test import override_settings
    from django.test.client import RequestFactory

    from chat_project import metrics
    from conftest import client_for
    from threads.tests.factories import MessageFactory, ThreadFactory
    from users.tests.factories import UserFactory

    call_command("migrate", verbosity=0)
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    thread = ThreadFactory(participants=[alice, bob])
    for _ in range(20):
        MessageFactory(thread=thread, sender=bob)
    url = f"/api/threads/{thread.pk}/messages/?limit=20"
    with_metrics = list(settings.MIDDLEWARE)
    left_out = {"chat_project.metrics.MetricsMiddleware"}
    if args.with_request_ids:
        left_out |= {
            "chat_project.middleware.RequestIdMiddleware",
            "chat_project.middleware.SessionUserMiddleware",
        }
    without = [name for name in with_metrics if name not in left_out]

    def client_with(middleware: list[str]):
        with override_settings(MIDDLEWARE=middleware):
            client = client_for(alice)
            assert client.get(url).status_code == 200  # a new handler: this middleware chain
        return client

    clients = {"off": client_with(without), "on": client_with(with_metrics)}
    times: dict[str, list[float]] = {"off": [], "on": []}
    # One request of each in turn: the machine's drift falls on both alike.
    for _ in range(args.calls):
        for mode, client in clients.items():
            started = time.process_time()
            client.get(url)
            times[mode].append((time.process_time() - started) * 1e6)
    off_median, on_median = statistics.median(times["off"]), statistics.median(times["on"])

    request = RequestFactory().get(url)
    request.resolver_match = django.urls.resolve(url.split("?")[0])
    calls = 100_000
    started = time.process_time()
    for _ in range(calls):
        metrics.record_request(request, 200, 0.001)
    bookkeeping = (time.process_time() - started) / calls * 1e6

    mode = "multiprocess" if metrics.MULTIPROCESS_DIR else "single process"
    print(f"prometheus-client mode: {mode}; {args.calls} requests each, alternating")
    print(f"  left out of the 'without' chain: {', '.join(sorted(left_out))}")
    print(f"  whole request, without metrics: {off_median:7.1f} µs CPU (median)")
    print(f"  whole request, with metrics:    {on_median:7.1f} µs CPU (median)")
    print(f"  ratio with/without:             {on_median / off_median:7.3f}")
    print(f"  record_request alone:           {bookkeeping:7.2f} µs CPU per request")


if __name__ == "__main__":
    main()
