"""Real-time events: what the write services publish once their transaction commits.

Every connected client listens on its user's group (`user_group`); an event goes to the
groups of the thread's participants, so a user hears about their own threads and nothing
else, including threads created after they connected. Events are sent from
`transaction.on_commit`, so a write that rolls back is never announced, and a failure to
deliver (the channel layer unreachable) drops the events without failing the write that
already committed: the REST API stays the source of truth, and a client that missed
events catches up with it (`GET /api/threads/<id>/messages?after=<id>`). An outage drops
events by the thousand, so it is logged as one line per FAILURE_LOG_INTERVAL with the
count (`chat_project.logs.FailureLog`), not a traceback per event.

The event shapes are listed in the README ("Real-time events").
"""

import asyncio
import logging
from collections.abc import Callable, Iterable
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction
from redis.exceptions import RedisError

from chat_project.logs import FailureLog

logger = logging.getLogger(__name__)

# What a channel layer that cannot reach its server raises (redis-py's errors, and the
# socket's own: refused, reset, timed out).
LAYER_ERRORS = (OSError, RedisError)

MESSAGE_CREATED = "message.created"
MESSAGE_UPDATED = "message.updated"
MESSAGE_DELETED = "message.deleted"
THREAD_CREATED = "thread.created"
THREAD_DELETED = "thread.deleted"
THREAD_READ = "thread.read"
TYPING = "typing"
SESSION_ENDED = "session.ended"  # server-internal: the consumer closes the socket

# The consumer method a layer message is dispatched to ("chat.event" -> chat_event).
LAYER_MESSAGE_TYPE = "chat.event"


def user_group(user_id: int) -> str:
    """The channel-layer group every connection of `user_id` joins."""
    return f"user.{user_id}"


def publish(event: dict, *, to: Iterable[int], layer_type: str = LAYER_MESSAGE_TYPE) -> None:
    """Send `event` to every connection of the users `to` after the current transaction
    commits (at once outside a transaction). `layer_type` names the consumer method that
    receives it (the default passes it on to the client)."""
    deliveries = [(user_id, event) for user_id in to]
    transaction.on_commit(partial(deliver, deliveries, layer_type), robust=True)


def publish_each(build: Callable[[int], dict | None], *, to: Iterable[int]) -> None:
    """Like `publish`, for events that differ per recipient: after the commit,
    `build(user_id)` makes the event of each recipient the layer can reach (it may read
    what the transaction wrote; None sends nothing to that user)."""
    recipients = list(to)

    def send() -> None:
        reachable = _reachable(get_channel_layer(), recipients)
        deliver([(user, event) for user in reachable if (event := build(user)) is not None])

    transaction.on_commit(send, robust=True)


# The event loop of the ASGI server this process runs, if any (chat_project/asgi.py).
_server_loop: asyncio.AbstractEventLoop | None = None


def serve_on(loop: asyncio.AbstractEventLoop) -> None:
    """Deliver events published from this process's threads on `loop`."""
    global _server_loop
    _server_loop = loop


def deliver(deliveries: list[tuple[int, dict]], layer_type: str = LAYER_MESSAGE_TYPE) -> None:
    """Hand the events to the channel layer now (in one round of sends).

    In the ASGI server, the request's thread hands them to the server's event loop and
    returns without waiting (the layer, and the sockets listening on it, live on that
    loop). Elsewhere (a management command, a WSGI server, code already running under
    asgiref's sync_to_async) asgiref runs the sends and waits for them."""
    layer = get_channel_layer()
    if layer is None:
        return
    reachable = set(_reachable(layer, [user for user, _ in deliveries]))
    deliveries = [(user, event) for user, event in deliveries if user in reachable]
    if not deliveries:
        return
    loop = _server_loop
    if loop is not None and loop.is_running() and not _on_loop(loop):
        future = asyncio.run_coroutine_threadsafe(_send_all(layer, deliveries, layer_type), loop)
        future.add_done_callback(_log_failure)
    else:
        async_to_sync(_send_all)(layer, deliveries, layer_type)


def _reachable(layer, user_ids: list[int]) -> list[int]:
    """The users whose connections `layer` could reach. With the in-memory layer everyone
    who could hear an event is connected to this process, so users with no connection
    here are left out (the usual case for a post to someone offline): nothing is built or
    handed over for them."""
    if isinstance(layer, InMemoryChannelLayer):
        return [user for user in user_ids if user_group(user) in layer.groups]
    return user_ids


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


dropped_events = FailureLog(logger, "Channel layer unreachable", "events dropped")


def _log_failure(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.error("Could not deliver events", exc_info=future.exception())


async def _send_all(layer, deliveries: list[tuple[int, dict]], layer_type: str) -> None:
    """Send each delivery; the ones the layer could not take are counted in
    `dropped_events` (anything else unexpected is logged with its traceback)."""
    results = await asyncio.gather(
        *(
            layer.group_send(user_group(user_id), {"type": layer_type, "event": event})
            for user_id, event in deliveries
        ),
        return_exceptions=True,
    )
    failures = [result for result in results if isinstance(result, Exception)]
    unreachable = [error for error in failures if isinstance(error, LAYER_ERRORS)]
    if unreachable:
        dropped_events.failed(unreachable[-1], len(unreachable))
    for error in failures:
        if not isinstance(error, LAYER_ERRORS):
            logger.error("Could not deliver an event", exc_info=error)


def message_event(kind: str, message_row: dict) -> dict:
    """A message event: its thread and id, and the message as the REST API returns it."""
    return {
        "type": kind,
        "thread": message_row["thread"],
        "message": message_row["id"],
        "data": message_row,
    }
