"""Where one API request's time goes, in-process: the request broken into its parts.

    python bench/breakdown.py --database sqlite [--limits 1,20,50,100] [--calls 300]
    python bench/breakdown.py --database sqlite --cprofile "first message page" --limits 50
    python bench/breakdown.py --database sqlite --compare --limits 50

Needs the data set (bench/generate.py). Sets Django up in this process with the
benchmark's settings (production ones: debug off) and, for each paged read (the first
message page, a deep `before=` page, the thread list, the heavy user's) at each page
size, times the whole request through Django's WSGI handler (no HTTP server: that part
is in bench/load.py's figures) and, separately, each of its parts:

- `JWT`: decoding and verifying the bearer token (users.authentication);
- `user row`: the authenticated user's query and checks (active, password fingerprint);
- `query params`: the message list's query-parameter serializer (threads.serializers);
- `thread look-up`: the membership query every /api/threads/<id>/ request starts with;
- `page SQL`: the page query alone, replayed raw on a cursor (execute and fetch);
- `row building`: the page's selector (threads.selectors) minus its SQL;
- `paginator`: DRF's paging and the paginated response (chat_project/pagination.py);
- `JSON`: rendering the response body (the renderer of REST_FRAMEWORK's settings);
- `DRF view, rest`: the view call (DRF's dispatch: request wrapping, authentication,
  permissions, throttles, the view) minus the parts above it;
- `DB connection`: closing the database connection and opening it again, which every
  request does at its end and start unless connections are kept (SQLite here; on
  PostgreSQL, the pool's hand-back and hand-out with its health check);
- `handler, middleware`: the whole request minus the view, the rendering and the
  connection: Django's handler, the middleware, URL resolving, the request signals.

Every part runs `--calls` times, round-robin with the others (so the machine's noise
falls on all of them alike); each figure is the median, in microseconds of this thread's
CPU time (`--clock cpu`, the default: time the process spends waiting for the CPU on a
busy machine does not count, nor, on PostgreSQL, the database server's work) or of
elapsed time (`--clock wall`). `--cprofile`
profiles the whole request of one of the reads instead, at the first of `--limits`.
`--compare` times the project's replacements of library parts (token decoding, JSON
rendering, the paginated response; on SQLite, connections kept between requests)
against the library's own, on the same inputs;
`--middleware` each middleware's own share of a whole request.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.load import DATA, bench_env  # noqa: E402

READS = ("first message page", "deep message page", "thread list")


def setup(database: str) -> None:
    os.environ.update(bench_env(database))
    import django

    django.setup()


def environ_for(path: str, query: str, token: str) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SCRIPT_NAME": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }


class Parts:
    """One read at one page size: the callables timing each part of its request."""

    def __init__(self, read: str, limit: int, meta: dict) -> None:
        from django.core.handlers.wsgi import WSGIHandler
        from django.db import connection
        from django.test import RequestFactory
        from rest_framework.request import Request
        from rest_framework.settings import api_settings
        from rest_framework_simplejwt.tokens import AccessToken

        from threads.models import Thread
        from threads.views import ThreadViewSet
        from users.authentication import JWTAuthentication
        from users.models import User

        self.read, self.limit = read, limit
        user = User.objects.get(username=meta["heavy_user"])
        token = str(AccessToken.for_user(user))
        big = meta["big_thread"]
        if read == "thread list":
            path, query, action, kwargs = "/api/threads/", f"limit={limit}", "list", {}
        else:
            path, action, kwargs = f"/api/threads/{big}/messages/", "messages", {"pk": str(big)}
            query = f"limit={limit}"
            if read == "deep message page":
                query = f"before={meta['deep_before']}&{query}"
        self.environ = environ_for(path, query, token)
        self.handler = WSGIHandler()
        self.factory = RequestFactory(HTTP_HOST="127.0.0.1:8000")
        self.path, self.query = path, query
        self.view = ThreadViewSet.as_view({"get": action})
        self.kwargs = kwargs
        self.authentication = JWTAuthentication()
        self.raw_token = token.encode()
        self.validated = self.authentication.get_validated_token(self.raw_token)
        self.user = user
        self.thread = Thread.objects.get(pk=big)
        self.drf_request = Request(self.factory.get(f"{path}?{query}"))
        self.renderer = api_settings.DEFAULT_RENDERER_CLASSES[0]()
        self.connection = connection

        # The queries the view makes, captured to be replayed raw.
        captured = []

        def capture(execute, sql, params, many, context):
            captured.append((sql, params))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(capture):
            response = self.view(self.django_request(), **kwargs)
        assert response.status_code == 200, response.data
        self.data = response.data
        self.queries = captured
        self.page = self.data["results"]
        self.body = self.renderer.render(self.data, "application/json", {})

    def django_request(self):
        return self.factory.get(
            f"{self.path}?{self.query}", HTTP_AUTHORIZATION=f"Bearer {self.raw_token.decode()}"
        )

    def whole(self) -> None:
        environ = {**self.environ, "wsgi.input": io.BytesIO(b"")}
        response = self.handler(environ, lambda status, headers: None)
        body = b"".join(response)
        response.close()
        assert body == self.body, "the handler answered another body"

    def reconnect(self) -> None:
        """Open the database connection and close it, as every request does when
        connections are not kept between requests (CONN_MAX_AGE 0; on PostgreSQL, taking
        one from the pool, with its health check, and handing it back)."""
        self.connection.ensure_connection()
        self.connection.close()

    def view_call(self) -> None:
        self.view(self.django_request(), **self.kwargs)

    def render(self) -> None:
        self.renderer.render(self.data, "application/json", {"response": None})

    def jwt(self) -> None:
        self.authentication.get_validated_token(self.raw_token)

    def user_row(self) -> None:
        self.authentication.get_user(self.validated)

    def query_params(self) -> None:
        from threads.serializers import MessageListQuerySerializer

        query = MessageListQuerySerializer(data=self.drf_request.query_params)
        query.is_valid(raise_exception=True)

    def thread_lookup(self) -> None:
        from threads.selectors import thread_for

        thread_for(self.user, self.thread.pk)

    def replay(self, index: int) -> None:
        sql, params = self.queries[index]
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()

    def selector(self) -> None:
        from threads import selectors

        if self.read == "thread list":
            selectors.thread_page_for(self.user, limit=self.limit, offset=0)
        elif self.read == "first message page":
            selectors.ThreadMessages(self.thread, reader=self.user).page(limit=self.limit, offset=0)
        else:
            selectors.message_window(
                selectors.ThreadMessages(self.thread, reader=self.user),
                before=int(self.drf_request.query_params["before"]),
                limit=self.limit,
            )

    def paginator(self) -> None:
        from chat_project.pagination import LimitOffsetPagination

        paginator = LimitOffsetPagination()
        page = paginator.paginate_rows(
            self.drf_request, count=10**6, fetch=lambda limit, offset: self.page
        )
        paginator.get_paginated_response(page)

    def timed(self) -> dict:
        """name: callable, for the parts this read has. The queries: the user's first,
        the thread look-up next (message reads), the page's last."""
        parts = {
            "whole": self.whole,
            "DB connection": self.reconnect,
            "view": self.view_call,
            "JSON": self.render,
            "JWT": self.jwt,
            "user row": self.user_row,
            "page SQL": lambda: self.replay(len(self.queries) - 1),
            "selector": self.selector,
        }
        if self.read != "thread list":
            parts["query params"] = self.query_params
            parts["thread look-up"] = self.thread_lookup
        if self.read != "deep message page":
            parts["paginator"] = self.paginator
        return parts


CLOCKS = {"cpu": time.thread_time_ns, "wall": time.perf_counter_ns}


def measure(parts: Parts, calls: int, clock_name: str) -> dict:
    timed = parts.timed()
    samples = {name: [] for name in timed}
    clock = CLOCKS[clock_name]
    for _ in range(20):  # warm up
        for function in timed.values():
            function()
    # Each part starts as it would in a request: the connection's opening with no
    # connection, the whole request with none unless the settings keep connections
    # between requests (CONN_MAX_AGE), the others with one open.
    connection = parts.connection
    kept = connection.settings_dict["CONN_MAX_AGE"] != 0
    for _ in range(calls):
        for name, function in timed.items():
            if name == "DB connection" or name == "whole" and not kept:
                connection.close()
            else:
                connection.ensure_connection()
            began = clock()
            function()
            samples[name].append(clock() - began)
    median = {name: statistics.median(values) / 1000 for name, values in samples.items()}
    shown = {"whole request": median["whole"]}
    inside = ["JWT", "user row", "query params", "thread look-up", "paginator"]
    # Kept between requests, the connection's opening is no part of a request.
    shown["DB connection"] = 0.0 if kept else median["DB connection"]
    shown["handler, middleware"] = (
        median["whole"] - median["view"] - median["JSON"] - shown["DB connection"]
    )
    shown["DRF view, rest"] = (
        median["view"] - median["selector"] - sum(median[name] for name in inside if name in median)
    )
    for name in inside[:4]:
        if name in median:
            shown[name] = median[name]
    shown["page SQL"] = median["page SQL"]
    shown["row building"] = median["selector"] - median["page SQL"]
    if "paginator" in median:
        shown["paginator"] = median["paginator"]
    shown["JSON"] = median["JSON"]
    return shown


def compare(meta: dict, limit: int, calls: int, clock_name: str) -> None:
    """The project's own versions of library parts against the library's, on the same
    inputs, round-robin: what each of the project's replacements saves per request."""
    from rest_framework import pagination, renderers
    from rest_framework.settings import api_settings
    from rest_framework_simplejwt.authentication import JWTAuthentication as StockJWT

    from chat_project.pagination import LimitOffsetPagination
    from users.authentication import JWTAuthentication

    parts = Parts("first message page", limit, meta)
    stock_renderer = renderers.JSONRenderer()
    project_renderer = api_settings.DEFAULT_RENDERER_CLASSES[0]()
    stock, project = StockJWT(), JWTAuthentication()
    project.get_validated_token(parts.raw_token)  # what a client's later requests find

    def page(paginator_class):
        def run():
            paginator = paginator_class()
            paginator.request = parts.drf_request
            paginator.limit = paginator.get_limit(parts.drf_request)
            paginator.offset = paginator.get_offset(parts.drf_request)
            paginator.count = 10**6
            return paginator.get_paginated_response(parts.page).data

        return run

    pairs = {
        "JWT decoding (SimpleJWT's; users.authentication)": (
            lambda: stock.get_validated_token(parts.raw_token),
            lambda: project.get_validated_token(parts.raw_token),
        ),
        f"JSON, {limit} rows (DRF's; DEFAULT_RENDERER_CLASSES)": (
            lambda: stock_renderer.render(parts.data, "application/json", {}),
            lambda: project_renderer.render(parts.data, "application/json", {}),
        ),
        "paginated response (DRF's; chat_project.pagination)": (
            page(pagination.LimitOffsetPagination),
            page(LimitOffsetPagination),
        ),
    }
    for name, (library, own) in pairs.items():
        if not name.startswith("JWT"):
            assert library() == own(), f"{name}: the two answer differently"

    # The whole request with a connection opened and closed for it (Django's default,
    # CONN_MAX_AGE 0), and with the thread's connection kept (the project's on SQLite).
    connection = parts.connection
    kept = connection.settings_dict["CONN_MAX_AGE"]
    prepare = {}
    if connection.vendor == "sqlite":

        def per_request() -> None:
            connection.settings_dict["CONN_MAX_AGE"] = 0
            connection.close()

        def persistent() -> None:
            connection.settings_dict["CONN_MAX_AGE"] = None
            if connection.connection is not None and connection.close_at is not None:
                connection.close()
            connection.ensure_connection()

        name = f"whole request, {limit} rows (connection per request; kept)"
        pairs[name] = (parts.whole, parts.whole)
        prepare[name] = (per_request, persistent)

    clock = CLOCKS[clock_name]
    samples = {(name, side): [] for name in pairs for side in (0, 1)}
    for call in range(calls):
        for name, functions in pairs.items():
            # Each side goes first every other time: the second of two runs of much the
            # same code finds the caches warm.
            for side in (0, 1) if call % 2 else (1, 0):
                if name in prepare:
                    prepare[name][side]()
                began = clock()
                functions[side]()
                samples[name, side].append(clock() - began)
    connection.settings_dict["CONN_MAX_AGE"] = kept
    print(
        f"median microseconds ({clock_name} time) of {calls} calls: the library's part, the "
        "project's, the difference"
    )
    for name in pairs:
        library, own = (statistics.median(samples[name, side]) / 1000 for side in (0, 1))
        print(f"  {name:56} {library:8.1f} {own:8.1f} {library - own:8.1f}")


PROBED: list[tuple[int, int, int]] = []  # (probe, 0 in / 1 out, time)


def _probe(index: int) -> type:
    """A middleware that notes when a request passes it, going in and coming out."""

    class Probe:
        def __init__(self, get_response) -> None:
            self.get_response = get_response

        def __call__(self, request):
            clock = CLOCK[0]
            PROBED.append((index, 0, clock()))
            response = self.get_response(request)
            PROBED.append((index, 1, clock()))
            return response

    Probe.__name__ = Probe.__qualname__ = f"Probe{index}"
    globals()[Probe.__name__] = Probe
    return Probe


CLOCK = [time.thread_time_ns]


def middleware(meta: dict, limit: int, calls: int, clock_name: str) -> None:
    """Each middleware's own time in the whole request (its code on the way in and out,
    not the layers inside it), with a probe between every two of them."""
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import override_settings

    CLOCK[0] = CLOCKS[clock_name]
    names = list(settings.MIDDLEWARE)
    probed = []
    for index, name in enumerate(names):
        probed += [f"{__name__}.{_probe(index).__name__}", name]
    probed.append(f"{__name__}.{_probe(len(names)).__name__}")
    parts = Parts("first message page", limit, meta)
    with override_settings(MIDDLEWARE=probed):
        parts.handler = WSGIHandler()
        for _ in range(20):
            parts.whole()
        samples = [[] for _ in range(len(names) + 1)]
        for _ in range(calls):
            parts.connection.close()
            PROBED.clear()
            parts.whole()
            seen = {(index, way): moment for index, way, moment in PROBED}
            for index in range(len(names)):
                own = seen[index + 1, 0] - seen[index, 0] + seen[index, 1] - seen[index + 1, 1]
                samples[index].append(own)
            samples[-1].append(seen[len(names), 1] - seen[len(names), 0])
    print(
        f"median microseconds ({clock_name} time) of {calls} requests (first message page, "
        f"{limit} rows), each middleware's own part (probes between them cost ~1 µs each):"
    )
    for name, values in zip([*names, "(inside: URL resolving, the view)"], samples, strict=True):
        print(f"  {name:60} {statistics.median(values) / 1000:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--limits", default="1,20,50,100")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--reads", default=",".join(READS), help="comma-separated")
    parser.add_argument(
        "--clock",
        choices=list(CLOCKS),
        default="cpu",
        help="cpu: this thread's CPU time (what other processes do on the machine does not "
        "count; on PostgreSQL neither does the database server's work); wall: elapsed time",
    )
    parser.add_argument("--cprofile", default="", help="one read's whole request, profiled")
    parser.add_argument(
        "--middleware", action="store_true", help="each middleware's own time in a request"
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="the project's replacements of library parts against the library's, at the "
        "first of --limits",
    )
    parser.add_argument("--output", default="")
    args = parser.parse_args()
    meta = json.loads((DATA / f"{args.database}.json").read_text())
    limits = [int(limit) for limit in args.limits.split(",")]
    setup(args.database)

    if args.compare:
        compare(meta, limits[0], args.calls, args.clock)
        return
    if args.middleware:
        middleware(meta, limits[0], args.calls, args.clock)
        return

    if args.cprofile:
        parts = Parts(args.cprofile, limits[0], meta)
        for _ in range(50):
            parts.whole()
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [parts.whole() for _ in range(args.calls)])
        stats = pstats.Stats(profiler).sort_stats("cumulative")
        stats.print_stats(45)
        stats.sort_stats("tottime").print_stats(30)
        return

    # Another connection stays open, as under a server with several threads: closing the
    # last connection to an SQLite database in WAL mode checkpoints it, every time.
    from django.db import connections

    other = connections.create_connection("default")
    other.ensure_connection()
    reads = [read.strip() for read in args.reads.split(",")]
    results = {}
    print(
        f"{args.database}, in-process (Django's WSGI handler, no HTTP server): median "
        f"microseconds ({args.clock} time) of {args.calls} calls, parts timed round-robin"
    )
    for read in reads:
        table = {
            limit: measure(Parts(read, limit, meta), args.calls, args.clock) for limit in limits
        }
        results[read] = table
        names = list(next(iter(table.values())))
        print(f"\n{read:28}" + "".join(f"{limit:>8} rows" for limit in limits))
        for name in names:
            print(f"  {name:26}" + "".join(f"{table[limit][name]:13.0f}" for limit in limits))
        if 1 in table and 50 in table:
            ratio = table[50]["whole request"] / table[1]["whole request"]
            print(f"  a 50-row page costs {ratio:.2f}x a 1-row page, in-process")
    if args.output:
        Path(args.output).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
