"""Reactions: either participant adds an emoji to a message and takes it back; both see
who reacted with what, as counts and whether it was them, wherever a message shows."""

from urllib.parse import quote

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.test import Client

from conftest import WORKERS, client_for, run_concurrently
from threads import queries
from threads.models import MAX_DISTINCT_REACTIONS, Reaction
from threads.tests.factories import MessageFactory, ThreadFactory
from threads.tests.test_realtime import call, connect, events_of, hears_nothing
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

THUMBS_UP = "👍"
HEART = "❤️"
# Twenty-two emoji, each one emoji of several code points or of one.
MANY = [
    "👍", "❤️", "😂", "🎉", "👀", "🙏", "🔥", "😮", "😢", "🤔", "👏", "💯",
    "👩🏽‍💻", "🇫🇷", "1️⃣", "🏳️‍🌈", "👨‍👩‍👧", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "👍🏿", "🫠", "🥳", "✅",
]  # fmt: skip


def reaction_url(message, emoji: str, *, encode: bool = True, slash: str = "") -> str:
    emoji = quote(emoji) if encode else emoji
    return f"/api/threads/{message.thread_id}/messages/{message.pk}/reactions/{emoji}{slash}"


def messages_url(thread) -> str:
    return f"/api/threads/{thread.pk}/messages/"


def react(client, message, emoji: str):
    return client.put(reaction_url(message, emoji))


def unreact(client, message, emoji: str):
    return client.delete(reaction_url(message, emoji))


def reactions_seen_by(client, message) -> list[dict]:
    """The message's reactions as its thread's page shows them to `client`'s user."""
    response = client.get(messages_url_of(message), {"limit": 100})
    (row,) = [row for row in response.data["results"] if row["id"] == message.pk]
    return row["reactions"]


def messages_url_of(message) -> str:
    return f"/api/threads/{message.thread_id}/messages/"


@pytest.fixture
def message(alice, thread):
    """Alice's message in her thread with bob."""
    return MessageFactory(thread=thread, sender=alice, text="dinner at 8?")


# --- Adding and removing ---------------------------------------------------------------


@pytest.mark.parametrize("slash", ["", "/"])
def test_a_participant_reacts_to_a_message(bob_client, bob, message, slash):
    response = bob_client.put(reaction_url(message, THUMBS_UP, slash=slash))

    assert response.status_code == 201
    assert response.data == {
        "thread": message.thread_id,
        "message": message.pk,
        "emoji": THUMBS_UP,
        "user": bob.pk,
        "user_detail": {"id": bob.pk, "username": "bob"},
        "reactions": [{"emoji": THUMBS_UP, "count": 1, "me": True}],
    }
    assert bob_client.get(f"{messages_url_of(message)}{message.pk}/").data["reactions"] == [
        {"emoji": THUMBS_UP, "count": 1, "me": True}
    ]


def test_reacting_again_with_the_same_emoji_changes_nothing(bob_client, message):
    first = react(bob_client, message, THUMBS_UP)

    again = react(bob_client, message, THUMBS_UP)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.data == first.data
    assert Reaction.objects.filter(message=message).count() == 1


def test_a_sender_reacts_to_their_own_message(alice_client, message):
    assert react(alice_client, message, "🎉").status_code == 201


def test_both_participants_react_and_each_sees_it_from_their_side(
    alice_client, bob_client, message
):
    react(bob_client, message, THUMBS_UP)
    react(bob_client, message, HEART)

    response = react(alice_client, message, THUMBS_UP)

    assert response.status_code == 201
    assert response.data["reactions"] == [
        {"emoji": THUMBS_UP, "count": 2, "me": True},
        {"emoji": HEART, "count": 1, "me": False},
    ]
    assert reactions_seen_by(bob_client, message) == [
        {"emoji": THUMBS_UP, "count": 2, "me": True},
        {"emoji": HEART, "count": 1, "me": True},
    ]


def test_reactions_are_in_order_of_first_use(alice_client, bob_client, message):
    for client, emoji in [(bob_client, "😂"), (alice_client, HEART), (alice_client, "😂")]:
        react(client, message, emoji)
    assert [r["emoji"] for r in reactions_seen_by(alice_client, message)] == ["😂", HEART]

    # Once nobody uses an emoji any more, using it again puts it last.
    unreact(bob_client, message, "😂")
    unreact(alice_client, message, "😂")
    react(bob_client, message, "😂")

    assert [r["emoji"] for r in reactions_seen_by(alice_client, message)] == [HEART, "😂"]


def test_taking_a_reaction_back(alice_client, bob_client, message):
    react(bob_client, message, THUMBS_UP)
    react(alice_client, message, THUMBS_UP)

    response = unreact(bob_client, message, THUMBS_UP)

    assert response.status_code == 204
    assert response.content == b""
    assert reactions_seen_by(bob_client, message) == [{"emoji": THUMBS_UP, "count": 1, "me": False}]
    assert reactions_seen_by(alice_client, message) == [
        {"emoji": THUMBS_UP, "count": 1, "me": True}
    ]


def test_taking_back_a_reaction_you_never_made_is_404(alice_client, bob_client, message):
    react(alice_client, message, THUMBS_UP)  # alice's, not bob's

    never = unreact(bob_client, message, THUMBS_UP)
    other_emoji = unreact(alice_client, message, HEART)

    assert never.status_code == other_emoji.status_code == 404
    assert never.data == {
        "detail": "You have not reacted to this message with this emoji.",
        "code": "not_found",
    }
    assert Reaction.objects.filter(message=message).count() == 1


def test_taking_a_reaction_back_twice_is_404_the_second_time(bob_client, message):
    react(bob_client, message, THUMBS_UP)

    statuses = [unreact(bob_client, message, THUMBS_UP).status_code for _ in range(2)]

    assert statuses == [204, 404]


# --- Who may react ---------------------------------------------------------------------


@pytest.mark.parametrize("emoji", [THUMBS_UP, "not an emoji", ""])
@pytest.mark.parametrize("method", ["put", "delete"])
def test_a_stranger_gets_404_whatever_they_send(mallory_client, bob_client, message, method, emoji):
    react(bob_client, message, THUMBS_UP)

    response = getattr(mallory_client, method)(reaction_url(message, emoji))

    assert response.status_code == 404
    assert response.data["code"] == "not_found"
    assert list(Reaction.objects.values_list("emoji", flat=True)) == [THUMBS_UP]


@pytest.mark.parametrize("method", ["put", "delete"])
def test_a_message_of_another_thread_or_no_message_is_404(alice_client, alice, message, method):
    elsewhere = MessageFactory(thread=ThreadFactory(participants=[alice, UserFactory()]))
    base = f"/api/threads/{message.thread_id}/messages"

    for path in (
        f"{base}/{elsewhere.pk}/reactions/{quote(THUMBS_UP)}",
        f"{base}/999999/reactions/{quote(THUMBS_UP)}",
        f"/api/threads/999999/messages/{message.pk}/reactions/{quote(THUMBS_UP)}",
    ):
        response = getattr(alice_client, method)(path)
        assert response.status_code == 404, path
    assert not Reaction.objects.exists()


@pytest.mark.parametrize("method", ["put", "delete"])
def test_an_anonymous_client_is_401(anon_client, message, method):
    assert getattr(anon_client, method)(reaction_url(message, THUMBS_UP)).status_code == 401


def test_someone_blocked_cannot_react_but_can_take_reactions_back(
    alice_client, bob_client, bob, message
):
    react(bob_client, message, THUMBS_UP)
    alice_client.post("/api/user/blocks/", {"user": bob.pk})

    refused = react(bob_client, message, HEART)
    taken_back = unreact(bob_client, message, THUMBS_UP)
    blockers_own = react(alice_client, message, HEART)

    assert refused.status_code == 403
    assert refused.data == {
        "detail": "You cannot post in this thread: the other participant has blocked you.",
        "code": "permission_denied",
    }
    assert taken_back.status_code == 204
    assert blockers_own.status_code == 201
    assert list(Reaction.objects.values_list("emoji", "user")) == [(HEART, message.sender_id)]


def test_unblocked_they_can_react_again(alice_client, bob_client, bob, message):
    alice_client.post("/api/user/blocks/", {"user": bob.pk})
    alice_client.delete(f"/api/user/blocks/{bob.pk}/")

    assert react(bob_client, message, THUMBS_UP).status_code == 201


# --- Which emoji -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "emoji",
    [
        "👩🏽‍💻",  # ZWJ sequence with a skin tone
        "👨‍👩‍👧",  # family: ZWJ sequence
        "👍🏿",  # skin tone
        "🇫🇷",  # flag: two regional indicators
        "🏴󠁧󠁢󠁳󠁣󠁴󠁿",  # subdivision flag: tag sequence
        "1️⃣",  # keycap
        "🏳️‍🌈",  # ZWJ with a variation selector
        "🫠",  # a recent one
        "©️",
    ],
)
def test_an_emoji_of_several_code_points_is_one_reaction(bob_client, message, emoji):
    response = react(bob_client, message, emoji)

    assert response.status_code == 201
    assert response.data["reactions"] == [{"emoji": emoji, "count": 1, "me": True}]


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("❤", "❤️"), ("1⃣", "1️⃣"), ("☺", "☺️"), ("🏳‍🌈", "🏳️‍🌈")],
)
def test_an_emoji_without_its_variation_selector_is_the_same_reaction(
    bob_client, message, sent, stored
):
    short = react(bob_client, message, sent)
    full = react(bob_client, message, stored)

    assert (short.status_code, full.status_code) == (201, 200)
    assert short.data["emoji"] == stored
    assert reactions_seen_by(bob_client, message) == [{"emoji": stored, "count": 1, "me": True}]
    assert unreact(bob_client, message, sent).status_code == 204


def test_the_emoji_may_be_sent_unencoded(bob_client, message):
    response = bob_client.put(reaction_url(message, "👩🏽‍💻", encode=False))

    assert response.status_code == 201
    assert response.data["emoji"] == "👩🏽‍💻"


@pytest.mark.parametrize(
    "emoji",
    [
        "a",  # text
        "thumbsup",
        ":thumbs_up:",
        "👍👍",  # two emoji
        "👍❤️",
        "👍a",  # an emoji and text
        " 👍",
        "👍 ",
        "",  # nothing
        "👍" * 40,  # over-long
        "x" * 300,
        "🏽",  # a skin tone on its own is a component, not an emoji
        "\u200d",
        "🇦🇦",  # regional indicators that name no country
        "%ZZ",
        "\x00",
    ],
)
@pytest.mark.parametrize("method", ["put", "delete"])
def test_anything_but_one_emoji_is_400(bob_client, message, method, emoji):
    response = getattr(bob_client, method)(reaction_url(message, emoji))

    assert response.status_code == 400
    assert list(response.data) == ["emoji"]
    assert not Reaction.objects.exists()


def test_a_bad_emoji_says_what_is_expected(bob_client, message):
    response = react(bob_client, message, "ok")

    assert response.data == {
        "emoji": ["Give exactly one emoji (URL-encoded), such as %F0%9F%91%8D for 👍."]
    }


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("method", ["put", "delete"])
def test_the_reactions_path_without_an_emoji_or_slash_is_400_not_a_redirect(
    bob_client, message, settings, method, debug
):
    # `.../reactions/` is a 400 for the missing emoji; without its slash, Django's
    # APPEND_SLASH answered a 301 (and a 500 with DEBUG on) instead of the same 400.
    settings.DEBUG = debug
    path = f"/api/threads/{message.thread_id}/messages/{message.pk}/reactions"

    response = getattr(bob_client, method)(path)

    assert response.status_code == 400
    assert list(response.json()) == ["emoji"]


def test_a_percent_encoding_that_is_not_utf8_is_400(bob_client, message):
    path = f"/api/threads/{message.thread_id}/messages/{message.pk}/reactions/%F0%9F"

    assert bob_client.put(path).status_code == 400


# --- At most MAX_DISTINCT_REACTIONS emoji per message ------------------------------------


def test_a_message_takes_at_most_20_different_emoji(alice_client, bob_client, message):
    assert MAX_DISTINCT_REACTIONS == 20
    for emoji in MANY[:20]:
        assert react(bob_client, message, emoji).status_code == 201

    one_more = react(alice_client, message, MANY[20])
    an_existing_one = react(alice_client, message, MANY[3])
    bob_again = react(bob_client, message, MANY[0])

    assert one_more.status_code == 409
    assert one_more.data == {
        "detail": "This message already has 20 different reactions: react with one of them.",
        "code": "too_many_reactions",
    }
    assert (an_existing_one.status_code, bob_again.status_code) == (201, 200)
    seen = reactions_seen_by(alice_client, message)
    assert [r["emoji"] for r in seen] == MANY[:20]
    assert seen[3] == {"emoji": MANY[3], "count": 2, "me": True}


def test_once_an_emoji_is_gone_another_fits(bob_client, message):
    for emoji in MANY[:20]:
        react(bob_client, message, emoji)
    unreact(bob_client, message, MANY[0])

    assert react(bob_client, message, MANY[20]).status_code == 201
    assert react(bob_client, message, MANY[21]).status_code == 409


# --- Deleted messages ------------------------------------------------------------------


def test_deleting_a_message_drops_its_reactions_and_it_takes_no_new_ones(
    alice_client, bob_client, message
):
    react(bob_client, message, THUMBS_UP)
    react(alice_client, message, HEART)

    alice_client.delete(f"{messages_url_of(message)}{message.pk}/")
    refused = react(bob_client, message, "😢")
    gone = unreact(bob_client, message, THUMBS_UP)

    assert refused.status_code == 409
    assert refused.data == {
        "detail": "This message was deleted and can no longer be reacted to.",
        "code": "message_deleted",
    }
    assert gone.status_code == 404
    assert reactions_seen_by(bob_client, message) == []
    assert not Reaction.objects.exists()


def test_deleting_a_thread_takes_its_reactions_along(alice_client, bob_client, message):
    react(bob_client, message, THUMBS_UP)

    assert alice_client.delete(f"/api/threads/{message.thread_id}/").status_code == 204
    assert not Reaction.objects.exists()


def test_a_moderators_purge_takes_the_reactions_along(bob_client, message):
    react(bob_client, message, THUMBS_UP)
    moderator = Client()
    moderator.force_login(UserFactory(is_staff=True, is_superuser=True))

    moderator.post(f"/admin/threads/message/{message.pk}/delete/", {"post": "yes"})

    assert not Reaction.objects.exists()


# --- Everywhere a message shows ----------------------------------------------------------


@pytest.fixture
def reacted(alice_client, bob_client, alice, bob, thread, message):
    """Alice's message with 👍 from both and ❤️ from bob, and a later message of bob's
    with 😂 from alice."""
    react(bob_client, message, THUMBS_UP)
    react(bob_client, message, HEART)
    react(alice_client, message, THUMBS_UP)
    later = MessageFactory(thread=thread, sender=bob, text="dinner it is")
    react(alice_client, later, "😂")
    return message, later


ALICE_SEES = [
    {"emoji": THUMBS_UP, "count": 2, "me": True},
    {"emoji": HEART, "count": 1, "me": False},
]
BOB_SEES = [
    {"emoji": THUMBS_UP, "count": 2, "me": True},
    {"emoji": HEART, "count": 1, "me": True},
]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"limit": 1, "offset": 1},
        {"before": 10**9},
        {"after": 1},
        {"around": "first_unread"},
        {"search": "dinner"},
    ],
)
def test_pages_show_each_reader_their_own_side(alice_client, bob_client, reacted, params):
    message, later = reacted
    for client, sees, later_sees in [
        (alice_client, ALICE_SEES, [{"emoji": "😂", "count": 1, "me": True}]),
        (bob_client, BOB_SEES, [{"emoji": "😂", "count": 1, "me": False}]),
    ]:
        rows = client.get(messages_url_of(message), params).data["results"]
        by_id = {row["id"]: row["reactions"] for row in rows}
        assert by_id.get(message.pk, sees) == sees
        assert by_id.get(later.pk, later_sees) == later_sees
        assert by_id, params


def test_one_message_and_search_across_threads_show_reactions(alice_client, bob_client, reacted):
    message, _ = reacted

    one = alice_client.get(f"{messages_url_of(message)}{message.pk}/")
    found = bob_client.get("/api/messages/", {"search": "dinner at"})

    assert one.data["reactions"] == ALICE_SEES
    assert [row["reactions"] for row in found.data["results"]] == [BOB_SEES]


def test_the_thread_lists_last_message_shows_reactions(alice_client, bob_client, reacted):
    _, later = reacted

    for client, me in [(alice_client, True), (bob_client, False)]:
        for path in ("/api/threads/", f"/api/threads/{later.thread_id}/"):
            data = client.get(path).data
            row = data["results"][0] if "results" in data else data
            assert row["last_message"]["reactions"] == [{"emoji": "😂", "count": 1, "me": me}]


def test_an_edit_keeps_the_reactions(alice_client, reacted):
    message, _ = reacted

    response = alice_client.patch(f"{messages_url_of(message)}{message.pk}/", {"text": "9?"})

    assert response.data["reactions"] == ALICE_SEES


def test_a_retried_post_answers_the_stored_message_with_its_reactions(
    alice_client, bob_client, thread
):
    body = {"text": "on my way", "client_id": "0b6a3a52-7c4a-4c9a-8f8e-1d2a3b4c5d6e"}
    posted = alice_client.post(f"/api/threads/{thread.pk}/messages", body)
    bob_client.put(
        f"/api/threads/{thread.pk}/messages/{posted.data['id']}/reactions/{quote(THUMBS_UP)}"
    )

    retried = alice_client.post(f"/api/threads/{thread.pk}/messages", body)

    assert posted.data["reactions"] == []
    assert retried.status_code == 200
    assert retried.data["reactions"] == [{"emoji": THUMBS_UP, "count": 1, "me": False}]


def test_the_admin_shows_a_messages_reactions(bob_client, bob, message):
    react(bob_client, message, "👩🏽‍💻")
    moderator = Client()
    moderator.force_login(UserFactory(username="moderator", is_staff=True, is_superuser=True))

    body = moderator.get(f"/admin/threads/message/{message.pk}/change/").content.decode()

    assert "👩🏽‍💻" in body
    assert "bob" in body


# --- Concurrency -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_same_reaction_sent_many_times_at_once_is_stored_once(alice, bob):
    thread = ThreadFactory(participants=[alice, bob])
    message = MessageFactory(thread=thread, sender=alice)

    responses = run_concurrently([lambda: react(client_for(bob), message, THUMBS_UP)] * WORKERS)

    assert sorted(r.status_code for r in responses) == [200] * (WORKERS - 1) + [201]
    assert Reaction.objects.filter(message=message).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_limit_holds_when_different_emoji_arrive_at_once(alice, bob):
    thread = ThreadFactory(participants=[alice, bob])
    message = MessageFactory(thread=thread, sender=alice)
    for emoji in MANY[:16]:
        react(client_for(alice), message, emoji)
    arriving = MANY[16:22] + MANY[:2]  # six new emoji for four free places, two known ones

    responses = run_concurrently(
        [
            lambda emoji=emoji, user=user: react(client_for(user), message, emoji)
            for emoji, user in zip(arriving, [alice, bob] * 4, strict=True)
        ]
    )

    statuses = [r.status_code for r in responses]
    assert sorted(statuses[:6]) == [201] * 4 + [409] * 2
    assert statuses[6:] == [200, 201]  # alice's known one again; bob joins a known one
    assert Reaction.objects.filter(message=message).values("emoji").distinct().count() == 20


@pytest.mark.django_db(transaction=True)
def test_reactions_arriving_while_the_message_is_deleted_never_outlive_it(alice, bob):
    thread = ThreadFactory(participants=[alice, bob])
    message = MessageFactory(thread=thread, sender=alice)
    reactions = [lambda e=e: react(client_for(bob), message, e) for e in MANY[: WORKERS - 1]]
    delete = [lambda: client_for(alice).delete(f"{messages_url_of(message)}{message.pk}/")]

    responses = run_concurrently(reactions[:3] + delete + reactions[3:])

    assert {r.status_code for r in responses} <= {201, 204, 409}
    assert not Reaction.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_reactions_arriving_while_the_thread_is_deleted_never_fail(alice, bob):
    thread = ThreadFactory(participants=[alice, bob])
    message = MessageFactory(thread=thread, sender=alice)
    reactions = [lambda e=e: react(client_for(bob), message, e) for e in MANY[: WORKERS - 1]]
    delete = [lambda: client_for(alice).delete(f"/api/threads/{thread.pk}/")]

    responses = run_concurrently(reactions[:3] + delete + reactions[3:])

    assert {r.status_code for r in responses} <= {201, 204, 404}
    assert not Reaction.objects.exists()


def test_a_reaction_stored_by_someone_else_meanwhile_is_answered_200(
    bob_client, bob, message, monkeypatch
):
    """A writer that skipped the lock (a script, a bulk load) stores the same reaction
    between the read and the insert: the unique constraint keeps one, no error."""
    original = queries.reaction_target

    def then_someone_stores_it(**kwargs):
        target = original(**kwargs)
        if not Reaction.objects.exists():
            Reaction.objects.create(message=message, user=bob, emoji=THUMBS_UP)
        return target

    monkeypatch.setattr(queries, "reaction_target", then_someone_stores_it)

    response = react(bob_client, message, THUMBS_UP)

    assert response.status_code == 200
    assert response.data["reactions"] == [{"emoji": THUMBS_UP, "count": 1, "me": True}]
    assert Reaction.objects.count() == 1


# --- Events ----------------------------------------------------------------------------


@pytest_asyncio.fixture
async def sockets():
    """alice and bob in their thread with alice's message, and each one's socket, and
    mallory's, who takes part in nothing of theirs."""

    def make():
        alice, bob, mallory = (UserFactory(username=name) for name in ("alice", "bob", "mallory"))
        thread = ThreadFactory(participants=[alice, bob])
        return alice, bob, mallory, MessageFactory(thread=thread, sender=alice, text="hi")

    alice, bob, mallory, message = await database_sync_to_async(make)()
    connected = [await connect(user) for user in (alice, bob, mallory)]
    yield (alice, bob, message, *connected)
    for socket in connected:
        await socket.disconnect()
    await get_channel_layer().flush()


def event(kind: str, message, user, emoji: str, reactions: list[dict]) -> dict:
    return {
        "type": kind,
        "thread": message.thread_id,
        "message": message.pk,
        "emoji": emoji,
        "user": user.pk,
        "user_detail": {"id": user.pk, "username": user.username},
        "reactions": reactions,
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_reaction_reaches_both_sockets_each_with_its_side(sockets):
    alice, bob, message, alices, bobs, mallorys = sockets

    added = await call(bob, "put", reaction_url(message, THUMBS_UP))

    bobs_event = event("reaction.added", message, bob, THUMBS_UP, [])
    bobs_event["reactions"] = [{"emoji": THUMBS_UP, "count": 1, "me": True}]
    assert await events_of(bobs) == [bobs_event]
    alices_event = {**bobs_event, "reactions": [{"emoji": THUMBS_UP, "count": 1, "me": False}]}
    assert await events_of(alices) == [alices_event]
    # The answer is the reactor's event without its type.
    assert {"type": "reaction.added", **added.data} == bobs_event
    assert await hears_nothing(alices, bobs, mallorys)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_taking_a_reaction_back_reaches_both_sockets(sockets):
    alice, bob, message, alices, bobs, mallorys = sockets
    await call(alice, "put", reaction_url(message, HEART))
    await call(bob, "put", reaction_url(message, HEART))
    await events_of(alices, 2)
    await events_of(bobs, 2)

    await call(alice, "delete", reaction_url(message, HEART))

    assert await events_of(alices) == [
        event(
            "reaction.removed", message, alice, HEART, [{"emoji": HEART, "count": 1, "me": False}]
        )
    ]
    assert await events_of(bobs) == [
        event("reaction.removed", message, alice, HEART, [{"emoji": HEART, "count": 1, "me": True}])
    ]
    assert await hears_nothing(alices, bobs, mallorys)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_sockets_hear_nothing_when_nothing_changes(sockets):
    alice, bob, message, alices, bobs, mallorys = sockets
    await call(bob, "put", reaction_url(message, THUMBS_UP))
    await events_of(alices)
    await events_of(bobs)

    again = await call(bob, "put", reaction_url(message, THUMBS_UP))
    missing = await call(bob, "delete", reaction_url(message, HEART))
    refused = await call(bob, "put", reaction_url(message, "no"))

    assert (again.status_code, missing.status_code, refused.status_code) == (200, 404, 400)
    assert await hears_nothing(alices, bobs, mallorys)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_message_events_reach_the_sockets_with_reactions_as_each_sees_them(sockets):
    alice, bob, message, alices, bobs, _ = sockets
    await call(bob, "put", reaction_url(message, THUMBS_UP))
    await events_of(alices)
    await events_of(bobs)
    url = f"{messages_url_of(message)}{message.pk}/"

    edited = await call(alice, "patch", url, {"text": "hi there"})
    await call(alice, "delete", url)

    (alice_updated, alice_deleted), (bob_updated, bob_deleted) = [
        await events_of(socket, 2) for socket in (alices, bobs)
    ]
    assert alice_updated["data"] == edited.data
    assert alice_updated["data"]["reactions"] == [{"emoji": "👍", "count": 1, "me": False}]
    assert bob_updated["data"]["reactions"] == [{"emoji": "👍", "count": 1, "me": True}]
    assert alice_deleted["data"]["reactions"] == bob_deleted["data"]["reactions"] == []
