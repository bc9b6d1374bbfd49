"""ASGI entry point: HTTP (the REST API, admin and docs) and WebSocket (`/ws/`, Channels)
on one port. `manage.py runserver` serves it with Daphne; `make serve` with uvicorn
workers under gunicorn (gunicorn.conf.py).

HTTP requests run Django's WSGI handler on a fixed pool of threads (a2wsgi) rather than
Django's ASGI handler. The views are synchronous (DRF), and Django's ASGI handler gives
each request a thread of its own for them and hops to it three times (request started,
view, response closed): the same requests answered 2.6 to 3.8 times slower than under a
WSGI server, against 1.25 to 1.45 times through the pool (docs/performance.md, "The
request handler in front of Django"). The pool's threads are reused, like a WSGI
server's, and the WebSocket side is native ASGI.
"""

import asyncio
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")

# Set Django up first: the imports below need the apps loaded.
get_asgi_application()

from a2wsgi import WSGIMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import WebsocketDenier  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import re_path  # noqa: E402

from chat_project.errors import request_too_large  # noqa: E402
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
    body is bounded (DATA_UPLOAD_MAX_MEMORY_SIZE, 413 beyond it, before reading when the
    Content-Length says so), so holding it is cheap. A body sent in chunks, without a
    Content-Length, gets one, so Django reads it instead of seeing an empty body.
    """
    if scope["path"] in LIVENESS_PATHS and scope["method"] in ("GET", "HEAD"):
        # Liveness is answered on the event loop, not by an HTTP thread: in a database
        # outage every thread can be waiting for a connection (DJANGO_DB_POOL_TIMEOUT each),
        # and a probe queued behind them would get a process restarted that only has to
        # wait for its database. (/readyz and the other servers: HealthCheckMiddleware.)
        return await _answer(send, 200, LIVE, [(b"cache-control", b"no-store")])
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    headers = [(name, value) for name, value in scope["headers"] if name != b"transfer-encoding"]
    declared = next((value for name, value in headers if name == b"content-length"), None)
    if limit is not None and declared is not None and declared.isdigit() and int(declared) > limit:
        return await _too_large(send, limit)
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if limit is not None and len(body) > limit:
            return await _too_large(send, limit)
        if not message.get("more_body"):
            break
    if declared is None and body:
        headers.append((b"content-length", str(len(body)).encode()))
    replayed = False

    async def receive_buffered():
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    await django_http({**scope, "headers": headers}, receive_buffered, send)


async def _too_large(send, limit: int) -> None:
    await _answer(send, 413, request_too_large(limit).content)


async def _answer(send, status: int, body: bytes, headers: list | None = None) -> None:
    """Send a JSON response from the event loop."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


websocket_application = URLRouter(
    [
        re_path(r"^ws/?$", EventConsumer.as_asgi()),
        re_path(r"", WebsocketDenier.as_asgi()),
    ]
)

_router = ProtocolTypeRouter({"http": http_application, "websocket": websocket_application})


async def application(scope, receive, send):
    # Events published from the HTTP threads are handed to this loop (threads/events.py).
    events.serve_on(asyncio.get_running_loop())
    return await _router(scope, receive, send)
