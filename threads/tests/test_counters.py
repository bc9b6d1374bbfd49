"""The thread list's last message and unread counts are kept as counters; they must always
equal what the messages themselves say, whatever happened to the messages."""

import pytest
from django.test import Client

from threads.models import Inbox, Message, Participant, Thread
from threads.services import thread_counters_rebuild
from threads.tests.factories import MessageFactory
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def assert_counters_match_messages(client, user, thread):
    """What the list says about `thread` for `user` equals what its messages say."""
    row = client.get(f"/api/threads/{thread.pk}/").data
    messages = client.get(f"/api/threads/{thread.pk}/messages/", {"limit": 100}).data
    waiting = [
        m
        for m in messages["results"]
        if m["sender"] != user.pk and not m["is_read"] and not m["deleted"]
    ]
    assert row["unread_count"] == len(waiting)
    assert client.get(f"/api/threads/{thread.pk}/unread_count").data["unread_count"] == len(waiting)
    assert row["last_message"] == (messages["results"][0] if messages["results"] else None)
    assert messages["count"] == Message.objects.filter(thread=thread).count()


def test_counters_follow_every_kind_of_change(alice_client, bob_client, alice, bob, thread):
    url = f"/api/threads/{thread.pk}/messages"
    ids = [bob_client.post(url, {"text": f"b{i}"}).data["id"] for i in range(4)]
    mine = alice_client.post(url, {"text": "a0"}).data["id"]
    alice_client.patch(f"/api/threads/{thread.pk}/mark_read", {"up_to": ids[1]})
    bob_client.delete(f"{url}/{ids[2]}/")  # unread when deleted
    bob_client.delete(f"{url}/{ids[0]}/")  # already read when deleted
    bob_client.patch(f"{url}/{ids[3]}/", {"text": "b3, edited"})
    alice_client.delete(f"{url}/{mine}/")  # the newest message, deleted: still the last one

    for client, user in ((alice_client, alice), (bob_client, bob)):
        assert_counters_match_messages(client, user, thread)
    assert alice_client.get("/api/threads/unread_count/").data == {"unread_count": 1}


def test_a_moderators_purge_moves_the_counters(alice_client, bob, alice, thread):
    older = MessageFactory(thread=thread, sender=bob)
    newest = MessageFactory(thread=thread, sender=bob)
    moderator = Client()
    moderator.force_login(UserFactory(username="mod", is_staff=True, is_superuser=True))

    moderator.post(f"/admin/threads/message/{newest.pk}/delete/", {"post": "yes"})

    row = alice_client.get(f"/api/threads/{thread.pk}/").data
    assert row["last_message"]["id"] == older.pk
    assert row["unread_count"] == 1
    assert_counters_match_messages(alice_client, alice, thread)


def test_purging_the_only_message_empties_the_thread_row(alice_client, alice, bob, thread):
    only = MessageFactory(thread=thread, sender=bob)
    moderator = Client()
    moderator.force_login(UserFactory(username="mod", is_staff=True, is_superuser=True))

    moderator.post(
        "/admin/threads/message/",
        {"action": "delete_selected", "_selected_action": [only.pk], "post": "yes"},
    )

    row = alice_client.get(f"/api/threads/{thread.pk}/").data
    assert (row["last_message"], row["unread_count"]) == (None, 0)
    assert not Message.objects.exists()


def test_rebuilding_the_counters_changes_nothing(alice, bob, thread):
    for sender in (alice, bob, bob):
        MessageFactory(thread=thread, sender=sender)
    before = (
        list(Thread.objects.values("id", "last_message_id", "message_count", "updated")),
        list(Participant.objects.order_by("id").values("user_id", "unread_count", "updated")),
        list(Inbox.objects.order_by("user_id").values("user_id", "thread_count")),
    )

    thread_counters_rebuild(thread_ids=[thread.pk])

    after = (
        list(Thread.objects.values("id", "last_message_id", "message_count", "updated")),
        list(Participant.objects.order_by("id").values("user_id", "unread_count", "updated")),
        list(Inbox.objects.order_by("user_id").values("user_id", "thread_count")),
    )
    assert after == before


def test_rebuilding_repairs_wrong_counters(alice_client, alice, bob, thread):
    MessageFactory(thread=thread, sender=bob)
    Thread.objects.update(message_count=7, last_message=None)
    Participant.objects.update(unread_count=5)
    Inbox.objects.update(thread_count=9)

    thread_counters_rebuild(thread_ids=[thread.pk])

    assert_counters_match_messages(alice_client, alice, thread)
    assert alice_client.get("/api/threads/").data["count"] == 1
    assert list(Inbox.objects.order_by("user_id").values_list("thread_count", flat=True)) == [
        1,
        1,
    ]


def test_rebuilding_after_a_purge_changes_nothing(alice, bob, thread):
    from threads.services import message_purge

    older = MessageFactory(thread=thread, sender=bob)
    newest = MessageFactory(thread=thread, sender=bob)
    message_purge(message=newest)
    before = list(Thread.objects.values("last_message_id", "message_count", "updated"))

    thread_counters_rebuild(thread_ids=[thread.pk])

    assert list(Thread.objects.values("last_message_id", "message_count", "updated")) == before
    assert before[0]["last_message_id"] == older.pk
