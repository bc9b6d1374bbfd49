"""Real-time events: the changes the write services record, sent once they commit.

Every change that concerns a user (a message created, updated or deleted, a thread
created or deleted, a read receipt, a reaction) is appended to that user's change log
(`threads.models.Change`) in the transaction that makes it (`record`), and the committed
entry, with its `cursor`, is what goes to the user's connections after the commit. A
write that rolls back is never announced. A failure to deliver (the channel layer
unreachable) delays the event without failing the write or losing it: the socket closes
with 1012 or notices the gap in its cursors, and the client, or the socket on its behalf,
catches up from the log (`GET /api/sync/?since=`, `/ws/?since=`). An outage drops
deliveries by the thousand, so it is logged as one line per FAILURE_LOG_INTERVAL with the
count (`chat_project.logs.FailureLog`), not a traceback per event.

Every connected client listens on its user's group (`user_group`); an event goes to the
groups of the thread's participants, so a user hears about their own threads and nothing
else, including threads created after they connected. A typing notice and the end of a
session are not changes: they are sent as they happen (`notify`) and never kept.

The event shapes are listed in the README ("Real-time events").
"""

import asyncio
import collections
import contextvars
import logging
import time
from collections.abc import Callable, Iterable
from functools import partial

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connection, transaction
from django.utils import timezone

from chat_project import metrics
from chat_project.channel_layer import CONNECTION_ERRORS
from chat_project.logs import FailureLog
from threads import queries

logger = logging.getLogger(__name__)

# What a channel layer that cannot reach its server raises (redis-py's errors, and the
# socket's own: refused, reset, timed out).
LAYER_ERRORS = CONNECTION_ERRORS

MESSAGE_CREATED = "message.created"
MESSAGE_UPDATED = "message.updated"
MESSAGE_DELETED = "message.deleted"
THREAD_CREATED = "thread.created"
THREAD_DELETED = "thread.deleted"
THREAD_READ = "thread.read"
REACTION_ADDED = "reaction.added"
REACTION_REMOVED = "reaction.removed"
# A message's events: read with the message as it is when they are read from the log.
MESSAGE_EVENTS = (MESSAGE_CREATED, MESSAGE_UPDATED, MESSAGE_DELETED)
# What a change log keeps (the events that `record` sends).
CHANGES = (
    MESSAGE_CREATED,
    MESSAGE_UPDATED,
    MESSAGE_DELETED,
    THREAD_CREATED,
    THREAD_DELETED,
    THREAD_READ,
    REACTION_ADDED,
    REACTION_REMOVED,
)
TYPING = "typing"
SESSION_ENDED = "session.ended"  # server-internal: the consumer closes the socket

# The consumer method a layer message is dispatched to ("chat.event" -> chat_event).
LAYER_MESSAGE_TYPE = "chat.event"
# The layer message's key, beside "event", for when its change committed (seconds since
# the epoch): the socket measures the delivery lag with it (`metrics.change_delivery_lag`).
# It stays in the layer message: clients get the event alone.
COMMITTED_AT = "committed_at"


def user_group(user_id: int) -> str:
    """The channel-layer group every connection of `user_id` joins."""
    return f"user.{user_id}"


def publish(event: dict, *, to: Iterable[int]) -> None:
    """Record `event` as a change of each of the users `to` (`record`), the same for all."""
    record(lambda user_id: event, to=to)


def record(build: Callable[[int], dict], *, to: Iterable[int]) -> None:
    """Append each user's event, `build(user_id)` (made now, from what the transaction
    holds: a message's reactions say whether the reader is among those who reacted), to
    their change log in the current transaction, and send the entries' events, each with
    its `cursor`, to their connections once it commits. Called inside the transaction of
    the change it announces: a change and its entry commit together or not at all."""
    if not connection.in_atomic_block:
        raise RuntimeError("Changes are recorded in the transaction that makes them.")
    made = [(user_id, build(user_id)) for user_id in to]
    entries = [
        queries.ChangeEntry(
            user_id=user_id,
            kind=event["type"],
            thread_id=event.get("thread"),
            message_id=event.get("message"),
            # A message's events are read with the message as it is when they are read.
            event=None if event["type"] in MESSAGE_EVENTS else event,
        )
        for user_id, event in made
    ]
    cursors = queries.changes_append(entries=entries, now=timezone.now())
    announce(
        [(user_id, event, cursor) for (user_id, event), cursor in zip(made, cursors, strict=True)]
    )


def announce(changes: Iterable[tuple[int, dict, int]]) -> None:
    """Send the events of changes already in their users' logs ((user id, event, cursor)
    triples) to their connections once the current transaction commits (at once outside
    one): each with its cursor."""
    deliveries = [(user_id, {**event, "cursor": cursor}) for user_id, event, cursor in changes]
    transaction.on_commit(partial(deliver, deliveries), robust=True)


def notify(event: dict, *, to: Iterable[int], layer_type: str = LAYER_MESSAGE_TYPE) -> None:
    """Send `event`, which is no change of anything kept (nothing to catch up on), to every
    connection of the users `to` after the current transaction commits (at once outside
    one). `layer_type` names the consumer method that receives it."""
    deliveries = [(user_id, event) for user_id in to]
    transaction.on_commit(partial(deliver, deliveries, layer_type), robust=True)


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
    committed_at = time.time()  # on_commit callbacks run right after the commit
    loop = _server_loop
    if loop is not None and loop.is_running() and not _on_loop(loop):
        # In a context of its own: the loop's sender outlives this request and sends
        # other requests' events too; what it logs is none of theirs.
        loop.call_soon_threadsafe(
            _hand_over, layer, deliveries, layer_type, committed_at, context=contextvars.Context()
        )
    else:
        messages = _layer_messages(deliveries, layer_type, committed_at)
        async_to_sync(_send_all)(layer, messages)


# Deliveries handed over by this process's threads, waiting on the server's loop, and the
# task that sends them (`_drain`).
_outbox: collections.deque = collections.deque()
_drainer: asyncio.Task | None = None


def _hand_over(
    layer, deliveries: list[tuple[int, dict]], layer_type: str, committed_at: float
) -> None:
    """On the server's loop: queue the deliveries behind those handed over before them, and
    start sending if nothing is. Handed over one by one, each as its own task, two events
    of one socket raced: a message's `message.deleted` could overtake the
    `message.updated` of the edit just before it."""
    global _drainer
    _outbox.append((layer, deliveries, layer_type, committed_at))
    loop = asyncio.get_running_loop()
    if _drainer is None or _drainer.done() or _drainer.get_loop() is not loop:
        _drainer = loop.create_task(_drain())


async def _drain() -> None:
    """Send what the outbox holds, round after round, until it is empty: each round's
    events in the order they were published, in one batch per layer."""
    while _outbox:
        rounds = list(_outbox)
        _outbox.clear()
        per_layer: dict = {}
        for layer, deliveries, layer_type, committed_at in rounds:
            messages = _layer_messages(deliveries, layer_type, committed_at)
            per_layer.setdefault(layer, []).extend(messages)
        for layer, messages in per_layer.items():
            await _send_all(layer, messages)


def _layer_messages(
    deliveries: list[tuple[int, dict]], layer_type: str, committed_at: float
) -> list[tuple]:
    """[(group, layer message), ...] in the order of `deliveries`."""
    return [
        (user_group(user), {"type": layer_type, "event": event, COMMITTED_AT: committed_at})
        for user, event in deliveries
    ]


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


async def _send_all(layer, messages: list[tuple[str, dict]]) -> None:
    """Send the layer messages ((group, message) pairs) in their order: in one batch where
    the layer takes batches (chat_project/channel_layer.py), else one by one. The ones the
    layer could not take go to `layer_refused` (anything else unexpected is
    logged with its traceback)."""
    send_many = getattr(layer, "group_send_many", None)
    sent = 0
    try:
        if send_many is not None:
            await send_many(messages)
        else:
            for group, message in messages:
                await layer.group_send(group, message)
                sent += 1
    except LAYER_ERRORS as error:
        layer_refused(error, len(messages) - sent)
    except Exception:  # never lost silently
        logger.exception("Could not deliver %d events", len(messages) - sent)
    else:
        sent = len(messages)
    count_published(message["event"].get("type") for _, message in messages[:sent])


def count_published(kinds: Iterable[str]) -> None:
    """Count events handed to the channel layer, by type (`metrics.events_published`)."""
    for kind in kinds:
        child = _published.get(kind)
        if child is None:
            child = _published[kind] = metrics.events_published.labels(kind)
        child.inc()


_published: dict = {}
_dropped_unreachable = metrics.events_dropped.labels("layer_unreachable")


def layer_refused(error: BaseException, count: int = 1) -> None:
    """`count` events the channel layer could not take: in the log, one line per burst
    (`dropped_events`), and in `metrics.events_dropped`."""
    dropped_events.failed(error, count)
    _dropped_unreachable.inc(count)


def message_event(
    kind: str,
    message_row: dict | None,
    *,
    thread_id: int | None = None,
    message_id: int | None = None,
) -> dict:
    """A message event: its thread and id, and the message as the REST API returns it, or
    None for a message gone for good (then `thread_id` and `message_id` say which)."""
    if message_row is not None:
        thread_id, message_id = message_row["thread"], message_row["id"]
    return {"type": kind, "thread": thread_id, "message": message_id, "data": message_row}
