"""ASGI entry point: HTTP (the Django application) and WebSocket (`/ws/`, Channels).

`manage.py runserver` serves it with Daphne; `make serve` with uvicorn workers under
gunicorn (gunicorn.conf.py).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")

# Django first: the imports below need the apps loaded.
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import WebsocketDenier  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import re_path  # noqa: E402

from chat_project.errors import json_error  # noqa: E402
from chat_project.http_guards import UNSUPPORTED_CHARSET, usable_charset  # noqa: E402
from threads.consumers import EventConsumer  # noqa: E402


async def _respond(send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def http_application(scope, receive, send):
    """Django, behind the checks that must come before it reads the request.

    Django's ASGI handler reads the whole body before any middleware runs, so the body
    limit is enforced here: a declared Content-Length over DATA_UPLOAD_MAX_MEMORY_SIZE is
    answered 413 unread, and a body streamed without one is cut off (the request is
    dropped) once it passes the limit.
    """
    headers = dict(scope["headers"])
    content_type = headers.get(b"content-type", b"").decode("latin-1")
    if not usable_charset(content_type, scope.get("query_string", b"").decode("latin-1")):
        return await _respond(send, 415, UNSUPPORTED_CHARSET)
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        declared = int(headers.get(b"content-length") or 0)
    except ValueError:
        declared = 0
    if limit is not None and declared > limit:
        response = json_error(
            f"Request body too large: at most {limit} bytes are accepted.",
            "request_too_large",
            413,
        )
        return await _respond(send, 413, response.content)
    if limit is None:
        return await django_application(scope, receive, send)

    received = 0

    async def receive_within_limit():
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                return {"type": "http.disconnect"}
        return message

    return await django_application(scope, receive_within_limit, send)


application = ProtocolTypeRouter(
    {
        "http": http_application,
        "websocket": URLRouter(
            [
                re_path(r"^ws/?$", EventConsumer.as_asgi()),
                re_path(r"", WebsocketDenier.as_asgi()),
            ]
        ),
    }
)
