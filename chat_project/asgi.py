"""ASGI entry point: HTTP (the REST API, admin and docs) and WebSocket (`/ws/`, Channels)
on one port. `manage.py runserver` serves it with Daphne; `make serve` with uvicorn
workers under gunicorn (gunicorn.conf.py).

HTTP requests run Django's WSGI handler on a fixed pool of threads (a2wsgi) rather than
Django's ASGI handler. The views are synchronous (DRF), and Django's ASGI handler gives
each request a thread of its own for them and hops to it three times (request started,
view, response closed): on this project's benchmark that cost about 2.5 ms per request,
the same requests answered 2.5 times slower than under a WSGI server. The pool's threads
are reused, like a WSGI server's, and the WebSocket side is native ASGI.
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
from django.urls import re_path  # noqa: E402

from chat_project.wsgi import application as wsgi_application  # noqa: E402
from threads import events  # noqa: E402
from threads.consumers import EventConsumer  # noqa: E402

# Threads serving HTTP requests in each server process.
HTTP_THREADS = int(os.environ.get("HTTP_THREADS", "8"))

http_application = WSGIMiddleware(wsgi_application, workers=HTTP_THREADS)

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
