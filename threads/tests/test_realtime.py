"""Real-time delivery over `/ws/`: who may connect, and who hears what.

Each story connects real WebSocket clients to the project's ASGI application (Channels'
WebsocketCommunicator), changes something the way a client or moderator does (the REST
API, the admin), and checks which sockets receive which event. Transactional database:
events go out when a transaction commits, so the test must let them commit.
"""

import asyncio
import io
import json
import logging
from datetime import timedelta

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import OperationalError, transaction
from django.test import Client
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from chat_project import channel_layer, logs
from chat_project.asgi import application
from chat_project.logs import FailureLog
from conftest import client_for
from threads import consumers, events
from threads import rechecks as threads_rechecks
from threads.models import Message
from threads.services import message_send
from threads.tests.factories import ThreadFactory
from users.models import User
from users.tests.factories import UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

# How long a socket waits to be sure nothing more arrives.
QUIET = 0.2


@pytest_asyncio.fixture(autouse=True)
async def fresh_channel_layer():
    yield
    await get_channel_layer().flush()


def access_token(user, **lifetime) -> str:
    token = AccessToken.for_user(user)
    if lifetime:
        token.set_exp(lifetime=timedelta(**lifetime))
    return str(token)


async def connect(user=None, *, token=None, path="/ws/", subprotocols=None):
    """A connected socket of `user` (token in the query string), or of the given token."""
    if user is not None:
        token = access_token(user)
    if token is not None and subprotocols is None:
        path = f"{path}?token={token}"
    socket = WebsocketCommunicator(application, path, subprotocols=subprotocols)
    connected, _ = await socket.connect()
    assert connected
    return socket


async def refused_with(socket) -> int | None:
    """The close code the server sent right after the handshake, if it closed."""
    output = await socket.receive_output(timeout=1)
    return output.get("code") if output["type"] == "websocket.close" else None


async def call(user, method: str, path: str, data=None):
    """A REST request by `user`, from the async test into the sync API, as their other
    client (a phone beside the browser) would make it."""

    def request():
        return getattr(client_for(user), method)(path, data)

    return await database_sync_to_async(request)()


async def events_of(socket, count: int = 1) -> list[dict]:
    """The socket's next `count` events, without their cursors: each change carries one,
    greater than the one before it on this socket (test_sync.py follows them closely)."""
    received = []
    for _ in range(count):
        event = await socket.receive_json_from(timeout=1)
        if event["type"] not in ("typing", "error"):
            cursor = event.pop("cursor")
            assert cursor > getattr(socket, "last_cursor", 0)
            socket.last_cursor = cursor
        received.append(event)
    return received


async def hears_nothing(*sockets) -> bool:
    return all([await socket.receive_nothing(timeout=QUIET) for socket in sockets])


@pytest_asyncio.fixture
async def pair():
    """alice and bob with their thread, and mallory who takes part in nothing of theirs."""

    def make():
        alice, bob, mallory = (UserFactory(username=name) for name in ("alice", "bob", "mallory"))
        return alice, bob, mallory, ThreadFactory(participants=[alice, bob])

    return await database_sync_to_async(make)()


# --- Handshake -------------------------------------------------------------------------


async def test_a_valid_token_in_the_query_string_connects(pair):
    alice, *_ = pair
    socket = await connect(alice)

    assert await hears_nothing(socket)
    await socket.disconnect()


async def test_a_valid_token_as_subprotocol_connects_and_is_answered_bearer(pair):
    alice, *_ = pair
    socket = WebsocketCommunicator(
        application, "/ws/", subprotocols=["bearer", access_token(alice)]
    )

    connected, subprotocol = await socket.connect()

    assert (connected, subprotocol) == (True, "bearer")
    assert await hears_nothing(socket)
    await socket.disconnect()


async def test_the_path_works_without_its_trailing_slash(pair):
    alice, *_ = pair
    socket = await connect(alice, path="/ws")

    assert await hears_nothing(socket)
    await socket.disconnect()


@pytest.mark.parametrize(
    "bad_token",
    [
        "",
        "not-a-token",
        "eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",  # well-formed, wrong signature
    ],
)
async def test_a_missing_or_bad_token_is_closed_with_4401(bad_token):
    socket = await connect(token=bad_token)

    assert await refused_with(socket) == 4401


async def test_no_token_at_all_is_closed_with_4401():
    socket = WebsocketCommunicator(application, "/ws/")
    await socket.connect()

    assert await refused_with(socket) == 4401


async def test_a_bad_token_as_subprotocol_is_closed_with_4401():
    socket = WebsocketCommunicator(application, "/ws/", subprotocols=["bearer", "nope"])
    await socket.connect()

    assert await refused_with(socket) == 4401


async def test_an_expired_token_is_closed_with_4401(pair):
    alice, *_ = pair
    socket = await connect(token=access_token(alice, seconds=-1))

    assert await refused_with(socket) == 4401


async def test_a_refresh_token_is_not_an_access_token(pair):
    alice, *_ = pair
    socket = await connect(token=str(await database_sync_to_async(RefreshToken.for_user)(alice)))

    assert await refused_with(socket) == 4401


async def test_a_deactivated_users_token_is_closed_with_4401(pair):
    alice, *_ = pair
    token = access_token(alice)
    alice.is_active = False
    await database_sync_to_async(alice.save)()

    assert await refused_with(await connect(token=token)) == 4401


async def test_the_connection_closes_when_its_token_expires(pair):
    alice, *_ = pair
    socket = await connect(token=access_token(alice, seconds=2))

    assert await hears_nothing(socket)
    assert (await socket.receive_output(timeout=3))["code"] == 4401


async def test_deactivating_an_account_closes_its_sockets_at_once(pair):
    alice, bob, *_ = pair
    alices, bobs = [await connect(user) for user in (alice, bob)]

    def moderator_deactivates_alice():
        alice.is_active = False
        alice.save()

    await database_sync_to_async(moderator_deactivates_alice)()

    assert (await alices.receive_output(timeout=1))["code"] == 4401
    assert await hears_nothing(bobs)


async def test_a_password_change_closes_the_accounts_sockets(pair):
    alice, *_ = pair
    alices = await connect(alice)

    def change_password():
        alice.set_password("a-brand-new-password-1")
        alice.save()

    await database_sync_to_async(change_password)()

    assert (await alices.receive_output(timeout=1))["code"] == 4401


async def test_other_account_changes_keep_the_sockets_open(pair):
    alice, *_ = pair
    alices = await connect(alice)

    def change_email():
        alice.email = "alice@example.com"
        alice.save()

    await database_sync_to_async(change_email)()

    assert await hears_nothing(alices)


async def test_other_paths_are_refused():
    socket = WebsocketCommunicator(application, "/ws/elsewhere/")

    connected, _ = await socket.connect()

    assert not connected


# --- Events: who hears what ------------------------------------------------------------


async def test_a_message_posted_over_rest_reaches_both_participants_only(pair):
    alice, bob, mallory, thread = pair
    sockets = [await connect(user) for user in (alice, bob, mallory)]

    response = await call(alice, "post", f"/api/threads/{thread.pk}/messages", {"text": "hi"})

    for socket in sockets[:2]:
        assert await events_of(socket) == [
            {
                "type": "message.created",
                "thread": thread.pk,
                "message": response.data["id"],
                "data": response.data,
            }
        ]
    assert await hears_nothing(*sockets)


async def test_a_retried_post_is_announced_once(pair):
    alice, bob, _, thread = pair
    bobs = await connect(bob)
    body = {"text": "once", "client_id": "0b6a3a52-7c4a-4c9a-8f8e-1d2a3b4c5d6e"}

    for _ in range(2):
        await call(alice, "post", f"/api/threads/{thread.pk}/messages", body)

    assert [event["type"] for event in await events_of(bobs)] == ["message.created"]
    assert await hears_nothing(bobs)


async def test_edits_and_deletes_reach_both_participants_only(pair):
    alice, bob, mallory, thread = pair
    url = f"/api/threads/{thread.pk}/messages"
    posted = (await call(alice, "post", url, {"text": "draft"})).data
    sockets = [await connect(user) for user in (alice, bob, mallory)]

    edited = await call(alice, "patch", f"{url}/{posted['id']}/", {"text": "final"})
    await call(alice, "delete", f"{url}/{posted['id']}/")

    for socket in sockets[:2]:
        updated, deleted = await events_of(socket, 2)
        assert updated == {
            "type": "message.updated",
            "thread": thread.pk,
            "message": posted["id"],
            "data": edited.data,
        }
        assert deleted["type"] == "message.deleted"
        assert deleted["data"]["text"] == ""
        assert deleted["data"]["deleted"] is not None
    assert await hears_nothing(*sockets)


async def test_message_events_carry_the_attachments_as_rest_shows_them(pair, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    alice, bob, _, thread = pair
    url = f"/api/threads/{thread.pk}/messages"

    def upload():
        file = io.BytesIO(b"%PDF-1.4 minutes of the meeting")
        file.name = "minutes.pdf"
        return client_for(alice).post(
            f"/api/threads/{thread.pk}/attachments", {"file": file}, format="multipart"
        )

    first, second = [(await database_sync_to_async(upload)()).data for _ in range(2)]
    bobs = await connect(bob)

    posted = await call(alice, "post", url, {"attachments": [first["id"]]})
    edited = await call(
        alice, "patch", f"{url}/{posted.data['id']}/", {"attachments": [second["id"]]}
    )
    await call(alice, "delete", f"{url}/{posted.data['id']}/")

    created, updated, deleted = await events_of(bobs, 3)
    assert created["data"] == posted.data
    assert created["data"]["attachments"] == [first]
    assert updated["data"] == edited.data
    assert updated["data"]["attachments"] == [second]
    assert deleted["data"]["attachments"] == []
    assert await hears_nothing(bobs)


async def test_a_socket_gets_its_events_in_the_order_they_happened_however_slow_the_layer(
    pair, monkeypatch
):
    alice, bob, _, thread = pair
    url = f"/api/threads/{thread.pk}/messages"
    posted = (await call(alice, "post", url, {"text": "draft"})).data
    bobs = await connect(bob)
    layer = get_channel_layer()
    send_now = layer.group_send

    async def slow_with_edits(group, message):
        if message["event"]["type"] == "message.updated":
            await asyncio.sleep(0.3)  # the edit's event is held up on its way
        await send_now(group, message)

    monkeypatch.setattr(layer, "group_send", slow_with_edits)

    await call(alice, "patch", f"{url}/{posted['id']}/", {"text": "final"})
    await call(alice, "delete", f"{url}/{posted['id']}/")

    assert [event["type"] for event in await events_of(bobs, 2)] == [
        "message.updated",
        "message.deleted",
    ]


async def test_a_new_thread_reaches_both_people_as_each_sees_it(pair):
    alice, _, mallory, _ = pair
    carol = await database_sync_to_async(UserFactory)(username="carol")
    sockets = [await connect(user) for user in (alice, carol, mallory)]

    created = await call(alice, "post", "/api/threads/", {"participants": [carol.pk]})

    for socket, user in zip(sockets[:2], (alice, carol), strict=True):
        [event] = await events_of(socket)
        mine = (await call(user, "get", f"/api/threads/{created.data['id']}/")).data
        assert event == {"type": "thread.created", "thread": created.data["id"], "data": mine}
    assert await hears_nothing(*sockets)


async def test_getting_an_existing_thread_announces_nothing(pair):
    alice, bob, *_ = pair
    sockets = [await connect(user) for user in (alice, bob)]

    response = await call(bob, "post", "/api/threads/", {"participants": [alice.pk]})

    assert response.status_code == 200
    assert await hears_nothing(*sockets)


async def test_a_deleted_thread_reaches_both_participants_only(pair):
    alice, bob, mallory, thread = pair
    sockets = [await connect(user) for user in (alice, bob, mallory)]

    await call(bob, "delete", f"/api/threads/{thread.pk}/")

    for socket in sockets[:2]:
        assert await events_of(socket) == [{"type": "thread.deleted", "thread": thread.pk}]
    assert await hears_nothing(*sockets)


async def test_a_read_receipt_tells_the_sender_and_the_readers_new_count(pair):
    alice, bob, mallory, thread = pair
    url = f"/api/threads/{thread.pk}/messages"
    first = (await call(alice, "post", url, {"text": "one"})).data
    await call(alice, "post", url, {"text": "two"})
    sockets = [await connect(user) for user in (alice, bob, mallory)]

    await call(bob, "patch", f"/api/threads/{thread.pk}/mark_read", {"up_to": first["id"]})

    receipt = {"type": "thread.read", "thread": thread.pk, "reader": bob.pk, "up_to": first["id"]}
    assert await events_of(sockets[0]) == [receipt]
    assert await events_of(sockets[1]) == [{**receipt, "unread_count": 1}]
    assert await hears_nothing(*sockets)


async def test_marking_read_with_nothing_new_announces_nothing(pair):
    alice, bob, _, thread = pair
    sockets = [await connect(user) for user in (alice, bob)]

    response = await call(bob, "patch", f"/api/threads/{thread.pk}/mark_read", {})

    assert response.data == {"marked": 0}
    assert await hears_nothing(*sockets)


async def test_a_moderators_purge_tells_both_to_drop_the_message(pair):
    alice, bob, mallory, thread = pair
    posted = (
        await call(alice, "post", f"/api/threads/{thread.pk}/messages", {"text": "spam"})
    ).data
    sockets = [await connect(user) for user in (alice, bob, mallory)]

    def moderator_deletes():
        moderator = Client()
        moderator.force_login(UserFactory(username="moderator", is_staff=True, is_superuser=True))
        return moderator.post(f"/admin/threads/message/{posted['id']}/delete/", {"post": "yes"})

    assert (await database_sync_to_async(moderator_deletes)()).status_code == 302
    for socket in sockets[:2]:
        assert await events_of(socket) == [
            {"type": "message.deleted", "thread": thread.pk, "message": posted["id"], "data": None}
        ]
    assert await hears_nothing(*sockets)


async def test_a_write_that_rolls_back_is_never_announced(pair):
    alice, bob, _, thread = pair
    sockets = [await connect(user) for user in (alice, bob)]

    def post_then_fail():
        with transaction.atomic():
            message_send(thread_id=thread.pk, sender=alice, text="never happened")
            raise RuntimeError("the rest of the request failed")

    with pytest.raises(RuntimeError):
        await database_sync_to_async(post_then_fail)()

    assert not await database_sync_to_async(Message.objects.exists)()
    assert await hears_nothing(*sockets)


# --- Typing ----------------------------------------------------------------------------


async def test_typing_reaches_the_other_participant_only(pair):
    alice, bob, mallory, thread = pair
    alices, bobs, mallorys = [await connect(user) for user in (alice, bob, mallory)]

    await alices.send_json_to({"type": "typing", "thread": thread.pk})

    assert await events_of(bobs) == [{"type": "typing", "thread": thread.pk, "user": alice.pk}]
    assert await hears_nothing(alices, bobs, mallorys)


async def test_typing_is_passed_on_at_most_once_per_interval(pair, settings):
    settings.WEBSOCKET_TYPING_INTERVAL = 60
    alice, bob, _, thread = pair
    alices, bobs = [await connect(user) for user in (alice, bob)]

    for _ in range(3):
        await alices.send_json_to({"type": "typing", "thread": thread.pk})

    assert len(await events_of(bobs)) == 1
    assert await hears_nothing(alices, bobs)


async def test_typing_into_someone_elses_thread_is_not_found(pair):
    alice, bob, mallory, thread = pair
    alices, bobs, mallorys = [await connect(user) for user in (alice, bob, mallory)]

    await mallorys.send_json_to({"type": "typing", "thread": thread.pk})

    assert await events_of(mallorys) == [
        {
            "type": "error",
            "code": "not_found",
            "detail": "No Thread matches the given query.",
            "thread": thread.pk,
        }
    ]
    assert await hears_nothing(alices, bobs)


async def test_typing_to_someone_who_blocked_you_reaches_nobody(pair):
    alice, bob, _, thread = pair
    await call(bob, "post", "/api/user/blocks/", {"user": alice.pk})
    alices, bobs = [await connect(user) for user in (alice, bob)]

    await alices.send_json_to({"type": "typing", "thread": thread.pk})

    assert (await events_of(alices))[0]["code"] == "not_found"
    assert await hears_nothing(bobs)


@pytest.mark.parametrize(
    ("sent", "code"),
    [
        ("not json", "parse_error"),
        ("[" * 5000, "parse_error"),  # nested deeper than the decoder recurses
        (json.dumps({"type": "message", "text": "hi"}), "invalid"),
        (json.dumps(["typing"]), "invalid"),
        (json.dumps({"type": "typing", "thread": "1"}), "invalid"),
        (json.dumps({"type": "typing", "thread": 2**70}), "invalid"),
        (json.dumps({"type": "typing"}), "invalid"),
    ],
)
async def test_anything_else_a_client_sends_gets_an_error_and_the_socket_stays(pair, sent, code):
    alice, bob, _, thread = pair
    alices, bobs = [await connect(user) for user in (alice, bob)]

    await alices.send_to(text_data=sent)

    assert (await events_of(alices))[0]["code"] == code
    await alices.send_json_to({"type": "typing", "thread": thread.pk})
    assert [event["type"] for event in await events_of(bobs)] == ["typing"]


async def test_a_flood_of_client_messages_is_throttled(pair, settings):
    settings.WEBSOCKET_MESSAGES_PER_SECOND = 3
    alice, *_ = pair
    alices = await connect(alice)

    for _ in range(5):
        await alices.send_to(text_data="{}")

    codes = [event["code"] for event in await events_of(alices, 5)]
    assert codes == ["invalid"] * 3 + ["throttled"] * 2


async def test_events_keep_flowing_for_threads_created_after_connecting(pair):
    alice, _, _, _ = pair
    carol = await database_sync_to_async(UserFactory)(username="carol")
    carols = await connect(carol)
    created = await call(alice, "post", "/api/threads/", {"participants": [carol.pk]})
    await events_of(carols)  # thread.created

    await call(alice, "post", f"/api/threads/{created.data['id']}/messages", {"text": "hey"})

    assert [event["type"] for event in await events_of(carols)] == ["message.created"]


# --- Sessions end everywhere: the periodic recheck ---------------------------------------

RECHECK = 0.05


@pytest.fixture
def rechecks(monkeypatch, settings):
    """Sockets recheck their account every RECHECK seconds; lists the accounts rechecked
    by each trip to the database."""
    settings.WEBSOCKET_RECHECK_SECONDS = RECHECK
    trips = []

    def counted(checks):
        trips.append([user_id for user_id, _ in checks])
        return accounts_recheck(checks)

    accounts_recheck = threads_rechecks.accounts_recheck
    monkeypatch.setattr(threads_rechecks, "accounts_recheck", counted)
    return trips


def deactivate(user):
    User.objects.filter(pk=user.pk).update(is_active=False)


def change_password(user):
    User.objects.filter(pk=user.pk).update(password=make_password("changed-elsewhere-1"))


def delete(user):
    User.objects.filter(pk=user.pk).delete()


@pytest.mark.parametrize("change", [deactivate, change_password, delete])
async def test_an_account_changed_without_its_models_save_is_closed_at_the_next_recheck(
    pair, rechecks, change
):
    *_, mallory, _ = pair
    mallorys = await connect(mallory)

    await database_sync_to_async(change)(mallory)

    assert (await mallorys.receive_output(timeout=1))["code"] == 4401


async def test_an_unchanged_account_stays_connected_across_rechecks(pair, rechecks):
    alice, *_ = pair
    alices = await connect(alice)

    assert await socket_quiet_for(alices, 6 * RECHECK)
    assert len(rechecks) >= 3
    await alices.disconnect()


async def test_sockets_due_together_are_rechecked_in_one_trip_to_the_database(
    pair, rechecks, monkeypatch
):
    alice, bob, mallory, _ = pair
    monkeypatch.setattr(threads_rechecks, "SLOTS", 1)  # every socket falls due together
    sockets = [await connect(person) for person in (alice, bob, mallory, alice)]

    assert await socket_quiet_for(sockets[0], 6 * RECHECK)
    assert sorted(max(rechecks, key=len)) == sorted([alice.pk, bob.pk, mallory.pk, alice.pk])
    for socket in sockets:
        await socket.disconnect()


async def test_each_socket_of_a_batch_gets_its_own_outcome(pair, rechecks, monkeypatch):
    alice, bob, mallory, _ = pair
    monkeypatch.setattr(threads_rechecks, "SLOTS", 1)  # every socket falls due together
    monkeypatch.setattr(threads_rechecks, "ACCOUNTS_PER_QUERY", 1)  # a query per account
    mallorys, alices, bobs = [await connect(person) for person in (mallory, alice, bob)]

    await database_sync_to_async(deactivate)(mallory)

    assert (await mallorys.receive_output(timeout=1))["code"] == 4401
    assert await socket_quiet_for(alices, 6 * RECHECK)
    assert await socket_quiet_for(bobs, RECHECK)
    await alices.disconnect()
    await bobs.disconnect()


async def test_a_socket_opened_after_the_last_one_closed_is_rechecked(pair, rechecks):
    alice, *_ = pair
    first = await connect(alice)
    assert await socket_quiet_for(first, 2 * RECHECK)
    await first.disconnect()

    again = await connect(alice)
    await database_sync_to_async(deactivate)(alice)

    assert (await again.receive_output(timeout=1))["code"] == 4401


async def test_a_socket_its_client_closed_is_rechecked_no_more(pair, rechecks, monkeypatch):
    alice, bob, *_ = pair
    bobs = await connect(bob)  # keeps the rechecks going
    alices = await connect(alice)
    assert await socket_quiet_for(alices, 2 * RECHECK)
    layer = get_channel_layer()
    group_discard = layer.group_discard
    leaving = asyncio.Event()

    async def slow_group_discard(group, channel):  # a Redis round trip, stretched
        leaving.set()
        await asyncio.sleep(6 * RECHECK)
        await group_discard(group, channel)

    monkeypatch.setattr(layer, "group_discard", slow_group_discard)
    await alices.send_input({"type": "websocket.disconnect", "code": 1000})
    await leaving.wait()
    rechecks.clear()
    assert await socket_quiet_for(bobs, 6 * RECHECK)

    assert rechecks  # bob's went on
    assert all(alice.pk not in trip for trip in rechecks)
    await alices.wait()
    await bobs.disconnect()


async def test_a_database_outage_during_a_recheck_keeps_the_socket_and_logs_one_line(
    pair, rechecks, monkeypatch, caplog
):
    alice, *_ = pair
    alices = await connect(alice)

    def database_down(checks):
        raise OperationalError("connection refused")

    monkeypatch.setattr(threads_rechecks, "accounts_recheck", database_down)
    assert await socket_quiet_for(alices, 6 * RECHECK)
    assert [record.getMessage()[:41] for record in warnings(caplog)] == [
        "Database unreachable: 1 account rechecks "
    ]

    monkeypatch.undo()  # the database is back: the next recheck sees the deactivation
    await database_sync_to_async(deactivate)(alice)
    assert (await alices.receive_output(timeout=1))["code"] == 4401


async def socket_quiet_for(socket, seconds: float) -> bool:
    return await socket.receive_nothing(timeout=seconds, interval=RECHECK / 5)


def warnings(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.levelno >= logging.WARNING]


# --- When the channel layer is unreachable (Redis down) ----------------------------------


class FlakyLayer:
    """An in-memory channel layer whose server can go away (`fail`) and come back
    (`recover`): meanwhile every call raises as channels_redis does, and pending
    receives fail too."""

    extensions = ["groups", "flush"]

    def __init__(self) -> None:
        self.memory = InMemoryChannelLayer()
        self.outage = asyncio.Event()

    def fail(self) -> None:
        self.outage.set()

    def recover(self) -> None:
        self.outage = asyncio.Event()

    def check(self) -> None:
        if self.outage.is_set():
            raise RedisConnectionError(
                "Error 111 connecting to 127.0.0.1:6379. Connection refused."
            )

    async def new_channel(self, prefix="specific"):
        self.check()  # channels_redis's pub/sub layer subscribes each new channel
        return await self.memory.new_channel(prefix)

    async def receive(self, channel):
        self.check()
        message = asyncio.ensure_future(self.memory.receive(channel))
        outage = asyncio.ensure_future(self.outage.wait())
        try:
            await asyncio.wait({message, outage}, return_when=asyncio.FIRST_COMPLETED)
            if message.done():
                return message.result()
            self.check()
        finally:
            message.cancel()
            outage.cancel()

    async def group_add(self, group, channel):
        self.check()
        await self.memory.group_add(group, channel)

    async def group_discard(self, group, channel):
        self.check()
        await self.memory.group_discard(group, channel)

    async def group_send(self, group, message):
        self.check()
        await self.memory.group_send(group, message)

    async def flush(self):
        await self.memory.flush()


@pytest.fixture
def flaky_layer(monkeypatch):
    """Every socket and publish goes through one FlakyLayer; the failure logs start afresh."""
    layer = FlakyLayer()
    for module in (events, consumers):
        monkeypatch.setattr(module, "get_channel_layer", lambda alias="default": layer)
    monkeypatch.setattr(events, "dropped_events", FailureLog(events.logger, "Layer down", "events"))
    monkeypatch.setattr(
        consumers, "lost_subscriptions", FailureLog(consumers.logger, "Layer down", "sockets")
    )
    return layer


@pytest.fixture
def clock(monkeypatch):
    """The failure logs' clock, moved by hand."""
    now = [1000.0]
    monkeypatch.setattr(logs, "monotonic", lambda: now[0])
    return now


async def warned(caplog, count: int) -> list[str]:
    """The WARNING (and worse) lines logged, once there are `count` (1 s at most)."""
    for _ in range(100):
        if len(warnings(caplog)) >= count:
            break
        await asyncio.sleep(0.01)
    return [record.getMessage() for record in warnings(caplog)]


@pytest.mark.parametrize("from_server_thread", [True, False], ids=["asgi-server", "elsewhere"])
async def test_posts_succeed_while_the_layer_is_down_and_one_line_reports_each_burst(
    pair, flaky_layer, clock, caplog, monkeypatch, from_server_thread
):
    # In the ASGI server the request's thread hands the sends to the server's loop;
    # elsewhere (a shell, a WSGI server) asgiref runs them: both report the same way.
    monkeypatch.setattr(
        events, "_server_loop", asyncio.get_running_loop() if from_server_thread else None
    )
    alice, _, _, thread = pair
    url = f"/api/threads/{thread.pk}/messages"
    flaky_layer.fail()

    statuses = [(await call(alice, "post", url, {"text": f"{n}"})).status_code for n in range(3)]

    assert statuses == [201] * 3
    [line] = await warned(caplog, 1)
    assert line.startswith("Layer down: 2 events since the last report (one report per 10 s")
    assert line.endswith(
        "ConnectionError: Error 111 connecting to 127.0.0.1:6379. Connection refused."
    )
    assert all(record.exc_info is None for record in caplog.records)
    # The server's loop may still be failing the later posts' sends: let it finish, so
    # that the clock moves only once all 4 are held back.
    for _ in range(100):
        if events.dropped_events.count == 4:
            break
        await asyncio.sleep(0.01)

    clock[0] += logs.FAILURE_LOG_INTERVAL
    assert (await call(alice, "post", url, {"text": "later"})).status_code == 201

    lines = await warned(caplog, 2)
    assert len(lines) == 2
    assert lines[1].startswith("Layer down: 6 events since the last report")  # 4 held back


async def test_a_socket_whose_subscription_breaks_is_closed_with_1012(pair, flaky_layer, caplog):
    alice, bob, *_ = pair
    alices, bobs = [await connect(user) for user in (alice, bob)]

    flaky_layer.fail()

    assert (await alices.receive_output(timeout=1))["code"] == 1012
    assert (await bobs.receive_output(timeout=1))["code"] == 1012
    [line] = await warned(caplog, 1)
    assert line.startswith("Layer down: 1 sockets since the last report")
    assert all(record.exc_info is None for record in caplog.records)


async def test_connecting_while_the_layer_is_down_is_closed_with_1012(pair, flaky_layer, caplog):
    alice, *_ = pair
    flaky_layer.fail()

    assert await refused_with(await connect(alice)) == 1012
    assert len(await warned(caplog, 1)) == 1


async def test_once_the_layer_is_back_reconnected_sockets_get_events_again(pair, flaky_layer):
    alice, bob, _, thread = pair
    alices = await connect(alice)
    flaky_layer.fail()
    assert (await alices.receive_output(timeout=1))["code"] == 1012
    missed = await call(bob, "post", f"/api/threads/{thread.pk}/messages", {"text": "missed"})

    flaky_layer.recover()
    alices = await connect(alice)
    caught_up = await call(alice, "get", f"/api/threads/{thread.pk}/messages")
    await call(bob, "post", f"/api/threads/{thread.pk}/messages", {"text": "back"})

    assert missed.status_code == 201
    assert [m["text"] for m in caught_up.data["results"]] == ["missed"]
    assert [event["data"]["text"] for event in await events_of(alices)] == ["back"]


# --- Through a real Redis (`make test-scaleout` runs this file with REDIS_URL) ----------

through_redis = pytest.mark.skipif(
    not settings.REDIS_URL, reason="needs Redis: REDIS_URL (make test-scaleout sets it)"
)


def kill_this_process_layer_connections() -> int:
    """Cut this process's channel-layer connections on the Redis side, as a Redis restart
    or a network failure would; other processes' connections are left alone."""
    redis = Redis.from_url(settings.REDIS_URL)
    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    ours = [
        client["id"]
        for client in redis.client_list()
        if client["name"] == channel_layer.connection_name(prefix)
    ]
    for client_id in ours:
        redis.client_kill_filter(_id=client_id)
    return len(ours)


@through_redis
async def test_through_redis_a_broken_subscription_closes_the_sockets_with_1012_at_once(
    pair, caplog
):
    alice, bob, _, thread = pair
    alices, bobs = [await connect(user) for user in (alice, bob)]

    assert await asyncio.to_thread(kill_this_process_layer_connections) >= 1

    assert (await alices.receive_output(timeout=3))["code"] == 1012
    assert (await bobs.receive_output(timeout=3))["code"] == 1012
    assert all(record.exc_info is None for record in caplog.records)
    alices = await connect(alice)
    await call(bob, "post", f"/api/threads/{thread.pk}/messages", {"text": "back"})
    assert [event["data"]["text"] for event in await events_of(alices)] == ["back"]


@through_redis
async def test_through_redis_a_burst_of_events_arrives_in_the_order_it_was_published(pair):
    alice, bob, _, thread = pair
    alices = await connect(alice)
    url = f"/api/threads/{thread.pk}/messages"

    def burst():
        with transaction.atomic():
            for n in range(30):
                client_for(bob).post(url, {"text": f"{n}"})

    await database_sync_to_async(burst)()

    heard = [event["data"]["text"] for event in await events_of(alices, 30)]
    assert heard == [f"{n}" for n in range(30)]


@through_redis
async def test_through_redis_a_process_that_only_published_recovers_from_a_redis_restart(pair):
    # A server process with no socket of its own has only published: its connections
    # are cut (as a Redis restart cuts them) without a subscription to notice.
    alice, bob, _, thread = pair
    url = f"/api/threads/{thread.pk}/messages"
    assert (await call(bob, "post", url, {"text": "before"})).status_code == 201
    assert await asyncio.to_thread(kill_this_process_layer_connections) >= 1

    alices = await connect(alice)
    await call(bob, "post", url, {"text": "after"})

    assert [event["data"]["text"] for event in await events_of(alices)] == ["after"]
