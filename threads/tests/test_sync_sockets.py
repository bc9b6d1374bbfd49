"""Catch-up over the socket: `/ws/?since=<cursor>` first sends what the client missed,
then the live changes, each once and in cursor order, even when the channel layer drops
or reorders events. Transactional database, as in test_realtime.py."""

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import OperationalError

from chat_project import request_context
from chat_project.asgi import application
from chat_project.logs import FailureLog
from threads import consumers, events, rechecks
from threads.models import Change, Inbox
from threads.tests.test_realtime import QUIET, access_token, call, fresh_channel_layer, pair

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

__all__ = ["fresh_channel_layer", "pair"]  # fixtures


async def connect_since(user, since=None):
    """`user`'s socket, with `?since=` when given (the token as a subprotocol)."""
    path = "/ws/" if since is None else f"/ws/?since={since}"
    socket = WebsocketCommunicator(application, path, subprotocols=["bearer", access_token(user)])
    connected, _ = await socket.connect()
    assert connected
    return socket


async def received(socket, count: int) -> list[dict]:
    return [await socket.receive_json_from(timeout=1) for _ in range(count)]


async def cursor_of(user) -> int:
    return (await call(user, "get", "/api/sync/")).data["cursor"]


async def post(user, thread, text: str) -> dict:
    return (await call(user, "post", f"/api/threads/{thread.pk}/messages", {"text": text})).data


async def test_a_socket_since_a_cursor_sends_what_was_missed_then_the_live_changes(pair):
    alice, bob, _, thread = pair
    since = await cursor_of(bob)
    missed = [await post(alice, thread, text) for text in ("one", "two")]
    await call(bob, "patch", f"/api/threads/{thread.pk}/mark_read")

    bobs = await connect_since(bob, since)
    replayed = await received(bobs, 3)
    live = await post(alice, thread, "three")
    (heard,) = await received(bobs, 1)

    assert replayed == (await call(bob, "get", "/api/sync/", {"since": since})).data["changes"][:3]
    assert [change["cursor"] for change in replayed] == [since + 1, since + 2, since + 3]
    assert [change.get("message") for change in replayed[:2]] == [m["id"] for m in missed]
    assert (heard["message"], heard["cursor"]) == (live["id"], since + 4)
    assert await bobs.receive_nothing(timeout=QUIET)


async def test_a_socket_at_the_newest_cursor_sends_only_live_changes(pair):
    alice, bob, _, thread = pair
    bobs = await connect_since(bob, await cursor_of(bob))

    await post(alice, thread, "hi")

    assert [event["type"] for event in await received(bobs, 1)] == ["message.created"]
    assert await bobs.receive_nothing(timeout=QUIET)


async def test_an_event_heard_again_is_not_sent_twice(pair):
    alice, bob, _, thread = pair
    bobs = await connect_since(bob, await cursor_of(bob))
    await post(alice, thread, "once")
    (event,) = await received(bobs, 1)

    # What a change read from the log at connection, and heard live too, looks like.
    await get_channel_layer().group_send(
        events.user_group(bob.pk), {"type": events.LAYER_MESSAGE_TYPE, "event": event}
    )

    assert await bobs.receive_nothing(timeout=QUIET)


async def test_an_event_the_layer_dropped_is_sent_before_the_next_one(pair, monkeypatch):
    alice, bob, _, thread = pair
    bobs = await connect_since(bob)
    delivered = events.deliver
    monkeypatch.setattr(events, "deliver", lambda *args, **kwargs: None)  # Redis hiccups
    dropped = await post(alice, thread, "dropped")
    monkeypatch.setattr(events, "deliver", delivered)

    after = await post(alice, thread, "after")

    first, second = await received(bobs, 2)
    assert (first["message"], second["message"]) == (dropped["id"], after["id"])
    assert second["cursor"] == first["cursor"] + 1
    assert await bobs.receive_nothing(timeout=QUIET)


async def test_an_event_the_layer_dropped_arrives_at_the_next_recheck(pair, monkeypatch, settings):
    alice, bob, _, thread = pair
    settings.WEBSOCKET_RECHECK_SECONDS = 0.3
    bobs = await connect_since(bob)
    monkeypatch.setattr(events, "deliver", lambda *args, **kwargs: None)

    dropped = await post(alice, thread, "dropped, and nothing after it")

    (event,) = [await bobs.receive_json_from(timeout=2)]
    assert event["message"] == dropped["id"]


async def test_rechecks_read_the_log_only_when_it_holds_something_missed(
    pair, monkeypatch, settings
):
    alice, bob, _, thread = pair
    settings.WEBSOCKET_RECHECK_SECONDS = 0.1
    bobs = await connect_since(bob)
    await post(alice, thread, "heard live")
    await received(bobs, 1)
    pages_read = []
    changes_for = consumers.changes_for

    def counted(user, *, since, limit):
        if since is not None:  # a page of the log, not just its newest cursor
            pages_read.append(since)
        return changes_for(user, since=since, limit=limit)

    monkeypatch.setattr(consumers, "changes_for", counted)
    assert await bobs.receive_nothing(timeout=0.6)  # five or so rechecks, nothing missed
    assert pages_read == []

    monkeypatch.setattr(events, "deliver", lambda *args, **kwargs: None)
    dropped = await post(alice, thread, "dropped")
    (event,) = await received(bobs, 1)
    assert event["message"] == dropped["id"]
    assert pages_read  # read at the recheck that found it missing


async def test_what_a_recheck_finds_for_a_socket_is_logged_as_that_sockets(
    pair, monkeypatch, settings
):
    alice, bob, _, thread = pair
    settings.WEBSOCKET_RECHECK_SECONDS = 0.1
    alices = await connect_since(alice)  # the first socket: its connecting starts the rechecks
    bobs = await connect_since(bob)
    monkeypatch.setattr(events, "deliver", lambda *args, **kwargs: None)
    logged_as = []
    changes_for = consumers.changes_for

    def noted(user, *, since, limit):
        if since is not None:  # a recheck's catch-up, from the log
            context = request_context.current()
            logged_as.append((user.pk, context and context.user_id))
        return changes_for(user, since=since, limit=limit)

    monkeypatch.setattr(consumers, "changes_for", noted)
    await post(alice, thread, "dropped")
    await received(bobs, 1)
    await received(alices, 1)

    assert sorted(logged_as) == [(alice.pk, alice.pk), (bob.pk, bob.pk)]
    await alices.disconnect()
    await bobs.disconnect()


async def test_events_that_overtook_each_other_are_sent_in_cursor_order(pair):
    alice, bob, _, thread = pair
    bobs = await connect_since(bob)
    since = await cursor_of(bob)
    await post(alice, thread, "first")
    await post(alice, thread, "second")
    await received(bobs, 2)
    # The same two changes, heard again the other way round (two processes' events).
    first, second = (await call(bob, "get", "/api/sync/", {"since": since})).data["changes"]
    layer = get_channel_layer()
    for event in (second, first):
        await layer.group_send(
            events.user_group(bob.pk), {"type": events.LAYER_MESSAGE_TYPE, "event": event}
        )

    assert await bobs.receive_nothing(timeout=QUIET)


async def test_a_cursor_that_is_not_one_is_refused_with_4400(pair):
    _, bob, _, _ = pair
    bobs = await connect_since(bob, "soon")

    error = await bobs.receive_json_from(timeout=1)
    closed = await bobs.receive_output(timeout=1)

    assert (error["type"], error["code"]) == ("error", "invalid")
    assert error["detail"] == "A valid integer is required."  # the sync endpoint's text
    assert closed["code"] == consumers.BAD_REQUEST == 4400


async def test_a_cursor_older_than_the_log_keeps_is_refused_with_4410(pair):
    alice, bob, _, thread = pair
    await post(alice, thread, "pruned")

    def prune():  # what changes_prune leaves: no entries, and the newest it removed
        Change.objects.filter(user=bob).delete()
        Inbox.objects.filter(pk=bob.pk).update(pruned_cursor=2)

    await database_sync_to_async(prune)()

    bobs = await connect_since(bob, 0)
    error = await bobs.receive_json_from(timeout=1)
    closed = await bobs.receive_output(timeout=1)

    assert (error["type"], error["code"]) == ("error", "resync_required")
    assert closed["code"] == consumers.RESYNC_REQUIRED == 4410


async def test_a_socket_sends_only_its_own_users_changes(pair):
    alice, bob, mallory, thread = pair
    await post(alice, thread, "not for mallory")

    mallorys = await connect_since(mallory, 0)

    assert await mallorys.receive_nothing(timeout=QUIET)


async def test_a_client_message_on_a_socket_refused_for_its_cursor_is_ignored(pair):
    alice, bob, _, thread = pair
    await post(alice, thread, "pruned")
    await database_sync_to_async(lambda: Inbox.objects.filter(pk=bob.pk).update(pruned_cursor=2))()
    socket = await connect_since(bob, 0)

    # Sent at once, before the client has read the server's close.
    await socket.send_json_to({"type": "typing", "thread": thread.pk})

    assert (await socket.receive_json_from(timeout=1))["code"] == "resync_required"
    assert (await socket.receive_output(timeout=1))["code"] == consumers.RESYNC_REQUIRED
    assert await socket.receive_nothing(timeout=QUIET)
    await socket.disconnect()  # raises what the server raised meanwhile


async def test_a_socket_closed_for_its_cursor_sends_nothing_after_the_close(pair):
    alice, bob, _, thread = pair
    await post(alice, thread, "pruned")
    await database_sync_to_async(lambda: Inbox.objects.filter(pk=bob.pk).update(pruned_cursor=2))()
    socket = await connect_since(bob, 0)
    assert (await socket.receive_json_from(timeout=1))["code"] == "resync_required"
    assert (await socket.receive_output(timeout=1))["code"] == consumers.RESYNC_REQUIRED

    # Changes made before the client has read the close.
    await post(alice, thread, "later")
    await post(alice, thread, "later still")

    assert await socket.receive_nothing(timeout=QUIET)
    await socket.disconnect()


async def test_a_socket_closed_for_a_database_outage_sends_nothing_after_the_close(
    pair, monkeypatch
):
    alice, bob, _, thread = pair
    reads = consumers.changes_for

    def database_down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(consumers, "changes_for", database_down)
    socket = await connect_since(bob)
    assert (await socket.receive_output(timeout=1))["code"] == consumers.SERVICE_RESTART
    monkeypatch.setattr(consumers, "changes_for", reads)

    await post(alice, thread, "made before the client has read the close")

    assert await socket.receive_nothing(timeout=QUIET)
    await socket.disconnect()  # raises what the server raised meanwhile


async def test_a_log_that_cannot_be_read_at_a_recheck_keeps_the_socket_open(
    pair, monkeypatch, settings
):
    alice, bob, _, thread = pair
    settings.WEBSOCKET_RECHECK_SECONDS = 0.1
    skipped = FailureLog(rechecks.logger, "Database unreachable", "account rechecks skipped")
    monkeypatch.setattr(rechecks, "skipped_rechecks", skipped)  # its own count
    bobs = await connect_since(bob)
    monkeypatch.setattr(events, "deliver", lambda *args, **kwargs: None)
    dropped = await post(alice, thread, "dropped while the database is away")
    changes_for = consumers.changes_for

    def database_down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(consumers, "changes_for", database_down)
    assert await bobs.receive_nothing(timeout=0.5)  # open: no close frame, nothing sent

    monkeypatch.setattr(consumers, "changes_for", changes_for)  # the database is back
    event = await bobs.receive_json_from(timeout=2)
    assert event["message"] == dropped["id"]
