"""Prometheus metrics: what the server counts, and `/metrics`, where Prometheus reads it.

Under `make serve` gunicorn runs several worker processes, and a scrape reaches whichever
one accepts it: each worker writes its values to files in PROMETHEUS_MULTIPROC_DIR
(prometheus-client's multiprocess mode, set up by gunicorn.conf.py) and the one answering
adds them all up. Without that variable (`make run`, the tests, a WSGI server) the values
live in the process's own registry. The same code serves both; the mode is fixed when
prometheus-client is first imported, so the variable must be set before the server starts.

Every metric is named here, with what it means; the README ("Metrics") says how to query
them. Per-request work is a few dictionary look-ups and two updates of cached label
children: no registry work after the first request of each route, method and status class.
"""

import hmac
import ipaddress
import os
import re
import threading
import time
import weakref
from collections.abc import Callable

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

from chat_project.errors import json_error, method_not_allowed, not_found

MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if MULTIPROCESS_DIR:
    # An operator may name a folder that does not exist yet; gunicorn.conf.py empties it
    # at each server start.
    os.makedirs(MULTIPROCESS_DIR, exist_ok=True)

METRICS_PATHS = ("/metrics", "/metrics/")

# No `_created` series beside each counter and histogram: multiprocess mode has none, and
# they double what single-process scrapes hold for nothing an operator queries.
disable_created_metrics()

# API requests take milliseconds; the top buckets catch the slow outliers (a search, an
# upload, a request queued for a database connection).
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# From a change's commit to its event on a socket: milliseconds in one process, a Redis
# round trip between processes, seconds under a backlog.
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

http_requests = Counter(
    "chat_http_requests",
    "HTTP requests answered, by route (the URL pattern), method and status class.",
    ["route", "method", "status"],
)
http_request_duration = Histogram(
    "chat_http_request_duration_seconds",
    "Time from the request reaching Django's middleware to the response leaving it.",
    ["route", "method", "status"],
    buckets=REQUEST_BUCKETS,
)
throttled_requests = Counter(
    "chat_throttled_requests",
    "Requests refused with 429, by throttle scope (login_lockout: django-axes' lockout).",
    ["scope"],
)
websocket_connections = Gauge(
    "chat_websocket_connections",
    "Open WebSocket connections receiving events (one series per server process).",
    multiprocess_mode="liveall",
)
websocket_connections_opened = Counter(
    "chat_websocket_connections_opened",
    "WebSocket connections authenticated and subscribed to their user's events.",
)
websocket_closes = Counter(
    "chat_websocket_closes",
    "WebSocket connections the server closed, by close code (4401 session ended or "
    "token expired, 1012 channel layer or database failed, 4400 bad `since`, 4410 resync).",
    ["code"],
)
websocket_messages_throttled = Counter(
    "chat_websocket_messages_throttled",
    "Messages from WebSocket clients refused over WEBSOCKET_MESSAGES_PER_SECOND.",
)
events_published = Counter(
    "chat_events_published",
    "Events handed to the channel layer, one per recipient user, by event type.",
    ["type"],
)
events_dropped = Counter(
    "chat_events_dropped",
    "Events that never reached their sockets: layer_unreachable (Redis down), "
    "reader_too_slow (a socket's buffer of unread events full). Changes among them are sent "
    "from the change log later; typing notices are lost.",
    ["reason"],
)
change_delivery_lag = Histogram(
    "chat_change_delivery_lag_seconds",
    "Seconds from a change's commit to its event being sent on a socket, for changes "
    "delivered live (clocks of different machines included).",
    buckets=LAG_BUCKETS,
)
changes_recovered = Counter(
    "chat_changes_recovered",
    "Changes a socket sent from the change log instead of live, because live delivery "
    "missed some, by what noticed: gap (a later change arrived first; it and the missed "
    "ones are sent from the log), recheck (the periodic read of the log).",
    ["noticed_by"],
)
db_pool_connections_in_use = Gauge(
    "chat_db_pool_connections_in_use",
    "PostgreSQL pool connections handed out to requests and sockets.",
    multiprocess_mode="livesum",
)
db_pool_connections_max = Gauge(
    "chat_db_pool_connections_max",
    "PostgreSQL pool size limit (DJANGO_DB_POOL_MAX_SIZE per process).",
    multiprocess_mode="livesum",
)
db_pool_requests_waiting = Gauge(
    "chat_db_pool_requests_waiting",
    "Requests for a PostgreSQL connection waiting for one to be free.",
    multiprocess_mode="livesum",
)
db_pool_waits = Counter(
    "chat_db_pool_waits",
    "Requests for a PostgreSQL connection that had to wait (none was free).",
)
db_pool_errors = Counter(
    "chat_db_pool_errors",
    "Requests for a PostgreSQL connection that failed (DJANGO_DB_POOL_TIMEOUT passed).",
)

# --- HTTP requests ---------------------------------------------------------------------

UNMATCHED = "<unmatched>"
# Any other method a client invents is "other": labels are a fixed set.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)")

_route_labels: dict[str, str] = {}
_request_children: dict[tuple[str, str, str], tuple] = {}


def route_label(route: str) -> str:
    """The URL pattern as a path: `api/threads/(?P<pk>[0-9]{1,18})/messages/?$` reads
    `/api/threads/<pk>/messages/`."""
    label = _route_labels.get(route)
    if label is None:
        readable = _NAMED_GROUP.sub(r"<\1>", route).replace("/?", "/")
        label = _route_labels[route] = "/" + readable.replace("^", "").replace("$", "")
    return label


def record_request(request: HttpRequest, status: int, seconds: float) -> None:
    match = request.resolver_match
    route = route_label(match.route) if match is not None else UNMATCHED
    method = request.method if request.method in METHODS else "other"
    key = (route, method, f"{status // 100}xx")
    children = _request_children.get(key)
    if children is None:
        children = _request_children[key] = (
            http_requests.labels(*key),
            http_request_duration.labels(*key),
        )
    children[0].inc()
    children[1].observe(seconds)


# --- The database pool -----------------------------------------------------------------

# Seconds between two readings of the pool by a server process (`sample_pool_on`); the
# process answering a scrape reads its own at once.
POOL_SAMPLE_SECONDS = 5.0
_pool_lock = threading.Lock()
_pool_counted = {"requests_queued": 0, "requests_errors": 0}


def sample_database_pool() -> None:
    """Write this process's PostgreSQL pool figures into the pool metrics (nothing
    without a pool: SQLite). psycopg_pool counts waits and errors since the pool was
    made; the counters get what it counted since the last reading."""
    pool = getattr(connections[DEFAULT_DB_ALIAS], "pool", None)
    if pool is None:
        return
    stats = pool.get_stats()
    with _pool_lock:
        db_pool_connections_in_use.set(stats["pool_size"] - stats["pool_available"])
        db_pool_connections_max.set(stats["pool_max"])
        db_pool_requests_waiting.set(stats.get("requests_waiting", 0))
        for key, counter in (
            ("requests_queued", db_pool_waits),
            ("requests_errors", db_pool_errors),
        ):
            total = stats.get(key, 0)
            # A smaller total: the pool was made again (Django closes it on some
            # settings changes), its count started over.
            counter.inc(total - _pool_counted[key] if total >= _pool_counted[key] else total)
            _pool_counted[key] = total


_sampled_loops: weakref.WeakSet = weakref.WeakSet()


def sample_pool_on(loop) -> None:
    """Read the pool every POOL_SAMPLE_SECONDS on `loop` (a server process's event loop):
    the figures a scrape shows come from every process's files, so each writes its own.
    Called for every connection the server takes: it returns at once after the first."""
    if loop in _sampled_loops:
        return
    _sampled_loops.add(loop)
    if getattr(connections[DEFAULT_DB_ALIAS], "pool", None) is None:
        return  # SQLite: no pool

    def sample() -> None:
        if loop.is_closed():
            return
        sample_database_pool()
        loop.call_later(POOL_SAMPLE_SECONDS, sample)

    loop.call_soon(sample)


# --- /metrics --------------------------------------------------------------------------

# Headers a reverse proxy adds. A proxy on the same host connects from 127.0.0.1 for every
# client it passes on: a request carrying one of these came from somewhere else.
FORWARDING_HEADERS = (b"forwarded", b"x-forwarded-for", b"x-real-ip")
_FORWARDING_META = tuple(
    "HTTP_" + name.decode().upper().replace("-", "_") for name in FORWARDING_HEADERS
)


def is_loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:  # a Unix socket's peer, or none
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def behind_a_proxy() -> bool:
    """Whether the settings say a reverse proxy passes the requests on
    (DJANGO_NUM_PROXIES, DJANGO_SECURE_PROXY_SSL_HEADER): then a loopback address may be
    the proxy's, on behalf of anyone."""
    return bool(settings.REST_FRAMEWORK.get("NUM_PROXIES") or settings.SECURE_PROXY_SSL_HEADER)


def bears_the_token(authorization: bytes, token: str) -> bool:
    """`Authorization: Bearer <token>`, the scheme in any case (RFC 9110)."""
    scheme, _, credentials = authorization.strip().partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), token.encode())


def scrape_refusal(client: str | None, *, forwarded: bool, authorization: bytes) -> int | None:
    """Whether a scrape is refused, and with which status: None (allowed) for a loopback
    client that no proxy passed on (no forwarding header, and no proxy in the settings), or
    anyone with `Authorization: Bearer <METRICS_TOKEN>`; else 401 with METRICS_TOKEN set,
    404 (as for a path that does not exist) without."""
    token = settings.METRICS_TOKEN
    if token and bears_the_token(authorization, token):
        return None
    if not forwarded and not behind_a_proxy() and is_loopback(client):
        return None
    return 401 if token else 404


def refusal_response(status: int) -> HttpResponse:
    if status == 404:
        return not_found(None)
    response = json_error("A valid metrics token is required.", "not_authenticated", 401)
    response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


def exposition() -> bytes:
    """Every metric in Prometheus' text format: every process's values added up in
    multiprocess mode, this process's otherwise."""
    sample_database_pool()
    if MULTIPROCESS_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry)


def scrape(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed(request.method, "GET, HEAD")
    refusal = scrape_refusal(
        request.META.get("REMOTE_ADDR"),
        forwarded=any(name in request.META for name in _FORWARDING_META),
        authorization=request.META.get("HTTP_AUTHORIZATION", "").encode("latin-1"),
    )
    if refusal is not None:
        return refusal_response(refusal)
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Count and time every request that gets past the health checks, by route; answer
    `/metrics` (with or without the slash) before the Host check and the HTTPS redirect,
    like the health checks (Prometheus addresses a target by IP, often over plain HTTP).
    Neither the probes nor the scrapes are counted."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info in METRICS_PATHS:
            response = scrape(request)
            response["Cache-Control"] = "no-store"
            return response
        started = time.perf_counter()
        response = self.get_response(request)
        record_request(request, response.status_code, time.perf_counter() - started)
        return response
