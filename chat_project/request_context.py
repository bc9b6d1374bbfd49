"""Who and what a log line is about: the request id and the user id of the request (or
WebSocket connection) being served, for every line logged while serving it.

The context lives in a ContextVar, so it follows the request wherever it is served: the
ASGI entry (chat_project/asgi.py) starts it on the event loop, and a2wsgi hands a copy of
the loop's context to the HTTP thread that runs Django, where RequestIdMiddleware takes it
over (under a WSGI server or the test client, the middleware starts it). The context is a
mutable object shared by those copies: the user id DRF's authentication sets in the thread
is seen by the access line uvicorn logs on the loop.
"""

import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass, field
from time import perf_counter

from django.core.signals import request_finished
from django.dispatch import receiver

# An incoming X-Request-ID is kept only when it is a short token of these characters
# (UUIDs, hex, ULIDs, base64): anything else would put the client's text in every log
# line of the request (newlines forging lines, control characters, megabytes). Otherwise
# a new one is made.
REQUEST_ID_MAX_LENGTH = 128
SANE_REQUEST_ID = re.compile(rf"[A-Za-z0-9._:+/=-]{{1,{REQUEST_ID_MAX_LENGTH}}}")
REQUEST_ID_HEADER = "X-Request-ID"


@dataclass(slots=True)
class RequestContext:
    request_id: str
    user_id: int | None = None
    # When the server began serving it: the access line's duration.
    started: float = field(default_factory=perf_counter)
    # Taken over by Django's middleware: a context left behind by an earlier request
    # (one whose response was never closed) is never taken over by the next one.
    claimed: bool = False


_current: ContextVar[RequestContext | None] = ContextVar("request_context", default=None)


def sane_request_id(value: str | bytes | None) -> str | None:
    """The client's X-Request-ID if it is safe to log as it is, else None."""
    if not value:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    return value if SANE_REQUEST_ID.fullmatch(value) else None


def start(incoming: str | bytes | None = None) -> RequestContext:
    """Start serving a request: its id is the client's `incoming` X-Request-ID when sane,
    else a new one."""
    context = RequestContext(sane_request_id(incoming) or new_request_id())
    _current.set(context)
    return context


def new_request_id() -> str:
    """32 random hex digits, from the system's generator: ids from Python's own would
    disclose its state, and with it what else it draws (the sockets' recheck times)."""
    return secrets.token_hex(16)


def current() -> RequestContext | None:
    return _current.get()


def set_user_id(user_id: int) -> None:
    """The request (or socket) being served is this user's."""
    context = _current.get()
    if context is not None:
        context.user_id = user_id


def clear() -> None:
    """Nothing is being served: what is logged next is no request's. For a thread whose
    response is closed, and a task that outlives the request or socket that started it
    (it would otherwise log other people's events under that request's ids)."""
    _current.set(None)


@receiver(request_finished)
def _forget(**kwargs) -> None:
    clear()
