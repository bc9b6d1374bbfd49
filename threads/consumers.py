"""The WebSocket endpoint `/ws/`: a client's live feed of events for its threads.

Authentication is the REST API's access token, given as `?token=<access>` or, to keep it
out of URLs and logs, as the subprotocols `bearer, <access>` (browsers cannot set an
Authorization header on a WebSocket). A missing, invalid or expired token, or one whose
user is inactive or changed password, gets the handshake completed and the connection
closed at once with code 4401, so browser clients can read why (a refused handshake
reaches them only as 1006). A connection lasts as long as its token: it is closed with
4401 when the token expires (the client reconnects with a fresh one), and when the
account is deleted, deactivated or its password changes: at once for changes saved
through the model while the channel layer is reachable (threads/signals.py), otherwise
(a queryset update, another process without the layer, Redis down) within
WEBSOCKET_RECHECK_SECONDS, when the socket rechecks its account (a database that does not
answer skips a recheck; it never closes the socket).

A failing channel layer (Redis unreachable) closes the socket with 1012, when its
subscription breaks or when it cannot join its group on connecting: the client reconnects
after a pause and catches up with `?since=`. Close codes: 4401, 1012, 4400, 4410 and the
server's own.

The server pushes the events that `threads.events` publishes to the user's group, each
change with its `cursor` (threads/models.py, `Change`). With `?since=<cursor>` the socket
first sends every change after that cursor from the user's change log, then the live
ones, with no gap and no duplicate between them. It keeps the cursor of the last change
it sent: a live event already sent is dropped, and one that arrives after a gap (an
event the layer could not carry, or two processes' events overtaking each other) is
preceded by the missing changes, read from the log. The log is also read every
WEBSOCKET_RECHECK_SECONDS, so an event the layer dropped is late, never lost. A `since`
that is not a cursor gets an `error` event and close code 4400; one older than the log
keeps, an `error` event `resync_required` and 4410 (load everything, reconnect without
`since`).

The only thing a client sends is `{"type": "typing", "thread": <id>}`, passed on to the other
participant at most once per WEBSOCKET_TYPING_INTERVAL per thread and never stored;
anything else gets an `error` event back. Bearer tokens, not cookies, authenticate the
socket, so another site's page cannot open one with the user's credentials: there is no
Origin check, and clients without an Origin header (apps, scripts) are welcome.
"""

import asyncio
import contextlib
import contextvars
import json
import logging
import time
from functools import partial
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch
from django.conf import settings
from django.db import Error as DatabaseError

from chat_project import metrics, request_context
from chat_project.exceptions import ChatError
from chat_project.ids import MAX_ID
from chat_project.logs import FailureLog
from threads import events, rechecks
from threads.errors import (
    NotACursor,
    NotAThreadId,
    NotJson,
    ResyncRequired,
    SocketThrottled,
    UnknownClientMessage,
)
from threads.selectors import changes_for, typing_recipient_for
from threads.serializers import SyncQuerySerializer
from users.authentication import user_for_access_token

# Close codes (listed in the README, "Real-time events").
UNAUTHORIZED = 4401  # no valid token, it expired, or the account lost its access
SERVICE_RESTART = 1012  # the channel layer failed: reconnect after a pause, catch up
BAD_REQUEST = 4400  # `since` is not a cursor
RESYNC_REQUIRED = 4410  # `since` is older than the change log keeps: load everything
# Changes sent per read of the log while catching up.
CATCH_UP_BATCH = 500
SUBPROTOCOL = "bearer"
# No connection outlives this, whatever its token says (access tokens last minutes).
MAX_CONNECTION_SECONDS = 24 * 3600

logger = logging.getLogger(__name__)
lost_subscriptions = FailureLog(logger, "Channel layer unreachable", "sockets closed with 1012")
failed_catch_ups = FailureLog(logger, "Database unreachable", "sockets closed with 1012")
_recovered_at_gap = metrics.changes_recovered.labels("gap")
_recovered_at_recheck = metrics.changes_recovered.labels("recheck")


def error_event(error: ChatError) -> dict:
    """The `error` event that answers one of the project's errors: the one place they
    become WebSocket answers (HTTP answers: chat_project.errors)."""
    return {"type": "error", "code": error.code, "detail": error.detail, **error.context}


def credentials(scope) -> tuple[str, str | None]:
    """The access token a handshake carries and the subprotocol to answer with."""
    offered = scope.get("subprotocols") or []
    if SUBPROTOCOL in offered:
        rest = [protocol for protocol in offered if protocol != SUBPROTOCOL]
        return (rest[0] if rest else ""), SUBPROTOCOL
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    return (query.get("token") or [""])[0], None


def since_of(scope) -> int | None:
    """The `since` cursor a handshake's query string carries, if any (NotACursor if it is
    not one)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    if "since" not in query:
        return None
    params = SyncQuerySerializer(data={"since": query["since"][0]})
    if not params.is_valid():
        raise NotACursor(str(params.errors["since"][0]))
    return params.validated_data["since"]


class EventConsumer(AsyncJsonWebsocketConsumer):
    user = None
    subscribed = False  # in its user's group
    closing = False
    layer_failed = False
    unreachable_layer: BaseException | None = None  # on connecting
    expiry: asyncio.TimerHandle | None = None
    recheck: asyncio.Task | None = None
    cursor = 0  # of the last change sent
    counted_open = False  # in metrics.websocket_connections

    async def __call__(self, scope, receive, send) -> None:
        """Channels' AsyncConsumer.__call__, with the channel layer's receive guarded:
        when it fails (Redis unreachable), the socket closes with 1012 rather than being
        dropped with no close frame and a traceback."""
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        try:
            self.channel_name = await self.channel_layer.new_channel()
        except events.LAYER_ERRORS as error:
            # The pub/sub layer subscribes a new channel at once: the handshake is
            # answered, then closed with 1012 (`connect`).
            self.unreachable_layer, self.layer_failed = error, True
        else:
            self.channel_receive = partial(self.channel_layer.receive, self.channel_name)
        try:
            with contextlib.suppress(StopConsumer):
                await await_many_dispatch([receive, self.layer_receive], self.dispatch)
        finally:
            # Here, not in `disconnect`, which Channels skips when a handler fails or the
            # server cancels the connection: that socket would be rechecked, and counted
            # by the gauge, forever.
            rechecks.forget(self)
            if self.counted_open:
                self.counted_open = False
                metrics.websocket_connections.dec()

    async def dispatch(self, message: dict) -> None:
        # Channels closes the thread's stale database connections before every handler,
        # a hop to its one database thread that every socket's every event queued for.
        # Passing an event on touches no database, so events skip it.
        if message["type"] == events.LAYER_MESSAGE_TYPE:
            await self.chat_event(message)
        else:
            await super().dispatch(message)

    async def layer_receive(self) -> dict:
        """The next message from the channel layer, or once it failed, `layer.lost`."""
        if self.layer_failed:
            await asyncio.Event().wait()  # nothing more: the socket is closing
        try:
            return await self.channel_receive()
        except events.LAYER_ERRORS as error:
            self.layer_failed = True
            return {"type": "layer.lost", "error": error}

    async def layer_lost(self, message: dict) -> None:
        await self.restart(message["error"])

    async def restart(self, error: BaseException) -> None:
        """The channel layer failed: events would stop reaching this socket unnoticed, so
        close it (1012) for the client to reconnect and catch up (`?since=`)."""
        if not self.closing:
            lost_subscriptions.failed(error)
        await self.close(code=SERVICE_RESTART, reason="Events interrupted: reconnect.")

    async def accept(self, subprotocol=None, headers=None) -> None:
        # The handshake's answer names the connection's request id, as HTTP answers do.
        context = request_context.current()
        if context is not None:
            headers = [*(headers or ()), (b"x-request-id", context.request_id.encode())]
        await super().accept(subprotocol, headers)

    async def close(self, code=None, reason=None) -> None:
        if self.closing:
            return
        self.closing = True
        rechecks.forget(self)  # nothing more to send it
        metrics.websocket_closes.labels(str(code or 1000)).inc()
        await super().close(code=code, reason=reason)

    async def connect(self) -> None:
        raw_token, subprotocol = credentials(self.scope)
        if raw_token:
            self.user, token = await database_sync_to_async(user_for_access_token)(raw_token)
        if self.user is not None:
            # The socket's log lines name its user from here on (chat_project/asgi.py gave
            # them the handshake's request id).
            request_context.set_user_id(self.user.pk)
        # A refused socket is accepted, then closed: browsers see the close code only then.
        if self.user is None:
            await self.accept(subprotocol)
            await self.close(code=UNAUTHORIZED, reason="A valid access token is required.")
            return
        try:
            since = since_of(self.scope)
        except NotACursor as error:
            await self.accept(subprotocol)
            await self.send_json(error_event(error))
            await self.close(code=BAD_REQUEST, reason="`since` is not a cursor.")
            return
        self.group = events.user_group(self.user.pk)
        try:
            if self.unreachable_layer is not None:
                raise self.unreachable_layer
            await self.channel_layer.group_add(self.group, self.channel_name)
        except events.LAYER_ERRORS as error:
            await self.accept(subprotocol)
            await self.restart(error)
            return
        self.subscribed = True
        metrics.websocket_connections.inc()  # less again when the connection ends
        self.counted_open = True
        metrics.websocket_connections_opened.inc()
        # Subscribed, then the cursor read, then the handshake answered: whatever changes
        # once the client is connected is heard, and a change both read from the log and
        # heard is sent once (`chat_event` drops what the cursor says was sent).
        self.sending = asyncio.Lock()
        self.cursor = since
        if since is None:  # live from now on
            try:
                start = await database_sync_to_async(changes_for)(self.user, since=None, limit=0)
            except DatabaseError as error:
                failed_catch_ups.failed(error)
                await self.accept(subprotocol)
                await self.close(code=SERVICE_RESTART, reason="Events interrupted: reconnect.")
                return
            self.cursor = start.cursor
        await self.accept(subprotocol)
        if since is not None:
            async with self.sending:
                if not await self.catch_up():
                    return
        self.last_typing: dict[int, float] = {}
        self.window = (time.monotonic(), 0)
        # The connection ends with its token, and earlier with the account's access:
        # at once through threads/signals.py, or at the next recheck.
        lifetime = min(max(0.0, token["exp"] - time.time()), MAX_CONNECTION_SECONDS)
        self.expiry = asyncio.get_running_loop().call_later(lifetime, self.expire)
        self.token = token
        # What a recheck finds is handled in this socket's context (its request id and
        # user in the log lines), not in that of the process's rechecks.
        self.context = contextvars.copy_context()
        rechecks.watch(self)

    def expire(self) -> None:
        asyncio.get_running_loop().create_task(
            self.close(code=UNAUTHORIZED, reason="The access token expired.")
        )

    async def catch_up(self, *, database_down_closes: bool = True, recovered=None) -> bool:
        """Send the changes of the log after `self.cursor`, with `self.sending` held.
        False if the socket closes instead: 4410 when the log no longer holds them, 1012
        when the database does not answer (the client reconnects and catches up), unless
        not `database_down_closes` (a recheck: the next one tries again). `recovered`,
        the counter of changes live delivery missed, counts those sent, if given."""
        while True:
            try:
                page = await database_sync_to_async(changes_for)(
                    self.user, since=self.cursor, limit=CATCH_UP_BATCH
                )
            except ResyncRequired as error:
                await self.send_json(error_event(error))
                await self.close(code=RESYNC_REQUIRED, reason="Load everything again.")
                return False
            except DatabaseError as error:
                if not database_down_closes:
                    rechecks.skipped_rechecks.failed(error)
                    return True
                failed_catch_ups.failed(error)
                await self.close(code=SERVICE_RESTART, reason="Events interrupted: reconnect.")
                return False
            for change in page.changes:
                await self.send_json(change)
            if recovered is not None:
                recovered.inc(len(page.changes))
            self.cursor = page.cursor
            if not page.has_more:
                return True

    def rechecked(self, newest: int | None) -> None:
        """What this socket's periodic recheck found (threads/rechecks.py): None if the
        account is gone, inactive or has a new password (changes that skipped the model's
        save, a queryset update, or whose event the channel layer could not carry): close
        with 4401. Else the cursor of the account's newest change: send what the log holds
        that this socket has not sent (a change whose event the layer dropped)."""
        if self.closing or (newest is not None and newest <= self.cursor):
            return
        if self.recheck is not None and not self.recheck.done():
            if newest is not None:
                return  # the last recheck's catch-up is still sending
            self.recheck.cancel()  # the access is gone: nothing more to send
        self.recheck = asyncio.get_running_loop().create_task(
            self.follow_recheck(newest), context=self.context.copy()
        )

    async def follow_recheck(self, newest: int | None) -> None:
        if newest is None:
            await self.close(code=UNAUTHORIZED, reason="The session ended.")
            return
        async with self.sending:
            if not self.closing:
                await self.catch_up(database_down_closes=False, recovered=_recovered_at_recheck)

    async def disconnect(self, code: int) -> None:
        rechecks.forget(self)  # before anything awaits: a round may end meanwhile
        for pending in (self.expiry, self.recheck):
            if pending is not None:
                pending.cancel()
        if self.subscribed:
            # With the layer down there is nothing left to undo: the broken subscription
            # took the membership with it (chat_project/channel_layer.py).
            with contextlib.suppress(*events.LAYER_ERRORS):
                await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        # A socket the server is closing (a refused `since`, a catch-up that failed) never
        # finished connecting: what its client sent meanwhile is moot.
        if not self.subscribed or self.closing:
            return
        try:
            if not self.within_rate():
                metrics.websocket_messages_throttled.inc()
                raise SocketThrottled
            try:
                content = json.loads(text_data if text_data is not None else bytes_data)
            except (TypeError, ValueError, RecursionError):  # not JSON, or nested too deep
                raise NotJson from None
            await self.receive_json(content)
        except ChatError as error:
            await self.send_json(error_event(error))

    async def receive_json(self, content, **kwargs) -> None:
        if not isinstance(content, dict) or content.get("type") != "typing":
            raise UnknownClientMessage
        thread_id = content.get("thread")
        if type(thread_id) is not int or not 0 < thread_id <= MAX_ID:
            raise NotAThreadId
        now = time.monotonic()
        if now - self.last_typing.get(thread_id, -1e9) < settings.WEBSOCKET_TYPING_INTERVAL:
            return  # the other participant already knows: a notice lasts the interval
        other = await database_sync_to_async(typing_recipient_for)(self.user, thread_id)
        self.last_typing[thread_id] = now
        try:
            await self.channel_layer.group_send(
                events.user_group(other),
                {
                    "type": events.LAYER_MESSAGE_TYPE,
                    "event": {"type": events.TYPING, "thread": thread_id, "user": self.user.pk},
                },
            )
        except events.LAYER_ERRORS as error:
            events.layer_refused(error)  # a notice that soon goes stale anyway
        else:
            events.count_published((events.TYPING,))

    def within_rate(self) -> bool:
        """At most WEBSOCKET_MESSAGES_PER_SECOND client messages in any one-second window."""
        started, count = self.window
        now = time.monotonic()
        if now - started >= 1:
            started, count = now, 0
        self.window = (started, count + 1)
        return count < settings.WEBSOCKET_MESSAGES_PER_SECOND

    async def session_end(self, message: dict) -> None:
        """The account was deactivated or its password changed (threads/signals.py)."""
        await self.close(code=UNAUTHORIZED, reason="The session ended.")

    async def chat_event(self, message: dict) -> None:
        """An event from the channel layer (LAYER_MESSAGE_TYPE): pass it to the client,
        in cursor order, once (a typing notice has no cursor: it just passes)."""
        if self.closing:  # refused or failed on connecting, or ending: nothing more to send
            return
        event = message["event"]
        cursor = event.get("cursor")
        # RuntimeError: the server closed the socket meanwhile (a client that stopped
        # answering pings); its disconnect is on its way.
        with contextlib.suppress(RuntimeError):
            if cursor is None:
                await self.send_json(event)
                return
            async with self.sending:
                if cursor == self.cursor + 1:
                    # Observed as the event is handed to the socket, not after: once sent,
                    # the client may act on it (a scrape, say) before this resumes.
                    committed_at = message.get(events.COMMITTED_AT)
                    if committed_at is not None:
                        metrics.change_delivery_lag.observe(time.time() - committed_at)
                    await self.send_json(event)
                    self.cursor = cursor
                elif cursor > self.cursor:  # some went missing: the log has them all
                    await self.catch_up(recovered=_recovered_at_gap)
