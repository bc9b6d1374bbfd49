"""ASGI entry point: HTTP (the REST API, admin and docs) and WebSocket (`/ws/`, Channels)
on one port. `manage.py runserver` serves it with Daphne; `make serve` with uvicorn
workers under gunicorn (gunicorn.conf.py).

HTTP requests run Django's WSGI handler on a fixed pool of threads (a2wsgi) rather than
Django's ASGI handler. The views are synchronous (DRF), and Django's ASGI handler gives
each request a thread of its own for them and hops to it three times (request started,
view, response closed), which made the same requests several times slower than under a
WSGI server (measured with bench/handlers.py: docs/performance.md). The pool's threads
are reused, like a WSGI server's, and the WebSocket side is native ASGI.
"""

import asyncio
import contextlib
import os
import tempfile

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")

# Set Django up first: the imports below need the apps loaded.
get_asgi_application()

from a2wsgi import WSGIMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import WebsocketDenier  # noqa: E402
from django.urls import re_path  # noqa: E402

from chat_project import metrics, request_context  # noqa: E402
from chat_project.errors import request_too_large  # noqa: E402
from chat_project.http_guards import body_over_limit, is_upload  # noqa: E402
from chat_project.wsgi import application as wsgi_application  # noqa: E402
from threads import events  # noqa: E402
from threads.consumers import EventConsumer  # noqa: E402

# Threads serving HTTP requests in each server process.
HTTP_THREADS = int(os.environ.get("HTTP_THREADS", "8"))

django_http = WSGIMiddleware(wsgi_application, workers=HTTP_THREADS)

LIVENESS_PATHS = ("/healthz", "/healthz/")
LIVE = b'{"status":"ok"}'


async def http_application(scope, receive, send):
    """Read the request body on the event loop, then hand the request to a thread.

    A thread that read the body itself would wait on the client: eight clients sending
    their bodies slowly would hold every HTTP thread and stall the API for everyone. The
    body is bounded (`http_guards.body_limit`, 413 beyond it, before reading when the
    Content-Length says so), so holding it is cheap: in memory, except an upload's, which
    goes to a temporary file past UPLOAD_MEMORY_BYTES (never a whole file in memory). A
    body sent in chunks, without a Content-Length, gets one, so Django reads it instead of
    seeing an empty body.
    """
    if scope["path"] in LIVENESS_PATHS and scope["method"] in ("GET", "HEAD"):
        # Liveness is answered on the event loop, not by an HTTP thread: in a database
        # outage every thread can be waiting for a connection (DJANGO_DB_POOL_TIMEOUT each),
        # and a probe queued behind them would get a process restarted that only has to
        # wait for its database. (/readyz and the other servers: HealthCheckMiddleware.)
        no_store = [(b"cache-control", b"no-store")]
        return await _answer(send, 200, LIVE, no_store, head=scope["method"] == "HEAD")
    if scope["path"] in metrics.METRICS_PATHS and scope["method"] in ("GET", "HEAD"):
        return await _scrape(scope, send)
    path = scope["path"]
    headers = [(name, value) for name, value in scope["headers"] if name != b"transfer-encoding"]
    declared = next((value for name, value in headers if name == b"content-length"), None)
    if declared is not None and declared.isdigit() and body_over_limit(int(declared), path):
        return await _too_large(send, path)
    spooled = is_upload(path)
    with (
        tempfile.SpooledTemporaryFile(max_size=UPLOAD_MEMORY_BYTES)
        if spooled
        else contextlib.nullcontext()
    ) as spool:
        received = await _receive_body(receive, send, path, spool)
        if received is None:
            return
        length, chunks = received
        if declared is None and length:
            headers.append((b"content-length", str(length).encode()))
        await django_http({**scope, "headers": headers}, _replay(chunks, receive), send)


async def _scrape(scope, send) -> None:
    """Answer /metrics without an HTTP thread, for the reason liveness is (a scrape during
    a database outage is when the figures matter most). Reading every worker's files
    takes a moment: it runs on the loop's default executor, not on the loop itself.
    (Other servers: chat_project.metrics.MetricsMiddleware.)"""
    headers = dict(scope["headers"])
    refusal = metrics.scrape_refusal(
        (scope.get("client") or (None,))[0],
        forwarded=any(name in headers for name in metrics.FORWARDING_HEADERS),
        authorization=headers.get(b"authorization", b""),
    )
    no_store = (b"cache-control", b"no-store")
    head = scope["method"] == "HEAD"
    if refusal is not None:
        response = metrics.refusal_response(refusal)
        extra = [(name.lower().encode(), value.encode()) for name, value in response.items()]
        extra = [
            header for header in extra if header[0] not in (b"content-type", b"content-length")
        ]
        return await _answer(send, refusal, response.content, [*extra, no_store], head=head)
    body = await asyncio.get_running_loop().run_in_executor(None, metrics.exposition)
    await _answer(
        send, 200, body, [no_store], content_type=metrics.CONTENT_TYPE_LATEST.encode(), head=head
    )


# An upload's body stays in memory up to this size, then goes to a temporary file.
UPLOAD_MEMORY_BYTES = 1024 * 1024
# The size of the pieces an upload kept in a file is handed to Django in.
REPLAY_CHUNK_BYTES = 64 * 1024


async def _receive_body(receive, send, path: str, spool) -> tuple[int, object] | None:
    """Read the whole body, refusing it (413) as soon as it passes its limit. Returns its
    length and its chunks (an iterable of bytes: a list, or pieces read back from `spool`
    when given), or None when the request was answered or the client went away."""
    kept = bytearray() if spool is None else None
    length = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        length += len(chunk)
        if body_over_limit(length, path):
            await _too_large(send, path)
            return None
        if kept is not None:
            kept += chunk
        elif chunk:
            spool.write(chunk)
        if not message.get("more_body"):
            break
    if kept is not None:
        return length, [bytes(kept)]
    spool.seek(0)
    return length, iter(lambda: spool.read(REPLAY_CHUNK_BYTES), b"")


def _replay(chunks, receive):
    """An ASGI `receive` that hands over the body read beforehand, then the real one (for
    the client's disconnect)."""
    pieces = iter(chunks)
    pending = next(pieces, b"")

    async def receive_buffered():
        nonlocal pending
        if pending is None:
            return await receive()
        body = pending
        pending = next(pieces, None)
        return {"type": "http.request", "body": body, "more_body": pending is not None}

    return receive_buffered


async def _too_large(send, path: str = "") -> None:
    await _answer(send, 413, request_too_large(path).content)


async def _answer(
    send,
    status: int,
    body: bytes,
    headers: list | None = None,
    *,
    content_type: bytes = b"application/json",
    head: bool = False,
) -> None:
    """Send a response from the event loop (JSON unless `content_type` says otherwise;
    without its body for a HEAD request), with the request's id."""
    context = request_context.current()
    own = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if context is not None:
        own.append((b"x-request-id", context.request_id.encode()))
    await send({"type": "http.response.start", "status": status, "headers": own + (headers or [])})
    await send({"type": "http.response.body", "body": b"" if head else body})


websocket_application = URLRouter(
    [
        re_path(r"^ws/?$", EventConsumer.as_asgi()),
        re_path(r"", WebsocketDenier.as_asgi()),
    ]
)

_router = ProtocolTypeRouter({"http": http_application, "websocket": websocket_application})


async def application(scope, receive, send):
    # Events published from the HTTP threads are handed to this loop (threads/events.py).
    loop = asyncio.get_running_loop()
    events.serve_on(loop)
    metrics.sample_pool_on(loop)
    if scope["type"] != "lifespan":
        # This request's or socket's id, for every line logged while serving it: the
        # server's access line and the answers given here included (the task runs in a
        # context of its own; a2wsgi hands a copy of it to the HTTP thread).
        request_context.start(
            next((value for name, value in scope["headers"] if name == b"x-request-id"), None)
        )
    return await _router(scope, receive, send)
