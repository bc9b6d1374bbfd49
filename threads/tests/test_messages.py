"""Sending and reading messages: `POST/GET /api/threads/<id>/messages`."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from threads.models import Message, Thread
from threads.tests.factories import MessageFactory, ThreadFactory

pytestmark = pytest.mark.django_db


def messages_url(thread, slash=True):
    return f"/api/threads/{thread.pk}/messages" + ("/" if slash else "")


@pytest.mark.parametrize("slash", [False, True])
def test_send_message(alice_client, alice, thread, slash):
    response = alice_client.post(messages_url(thread, slash), {"text": "Lorem ipsum"})

    assert response.status_code == 201
    assert set(response.data) == {
        "id",
        "thread",
        "sender",
        "sender_detail",
        "text",
        "created",
        "is_read",
        "edited",
        "deleted",
        "attachments",
        "reactions",
    }
    assert response.data["edited"] is None
    assert response.data["deleted"] is None
    assert response.data["thread"] == thread.pk
    assert response.data["sender"] == alice.pk
    assert response.data["sender_detail"] == {"id": alice.pk, "username": "alice"}
    assert response.data["text"] == "Lorem ipsum"
    assert response.data["is_read"] is False
    assert response.data["reactions"] == []
    assert Message.objects.get(pk=response.data["id"]).text == "Lorem ipsum"


def test_sending_moves_the_thread_activity(alice_client, thread):
    before = alice_client.get(f"/api/threads/{thread.pk}/").data["updated"]

    message = alice_client.post(messages_url(thread), {"text": "hi"}).data

    after = alice_client.get(f"/api/threads/{thread.pk}/").data["updated"]
    assert after == message["created"]
    assert after > before


def test_the_posted_message_is_returned_as_stored(alice_client, thread):
    posted = alice_client.post(messages_url(thread), {"text": "hi"}).data

    listed = alice_client.get(messages_url(thread)).data["results"]

    assert listed == [posted]


def test_a_message_is_never_timed_before_the_activity_it_follows(alice_client, bob_client, thread):
    """Servers' clocks disagree (or one steps back): a new message still sorts after the
    last one by time as well as by id."""
    first = bob_client.post(messages_url(thread), {"text": "from a clock running ahead"}).data
    ahead = timezone.now() + timedelta(minutes=5)
    Message.objects.filter(pk=first["id"]).update(created=ahead)
    Thread.objects.filter(pk=thread.pk).update(updated=ahead)

    reply = alice_client.post(messages_url(thread), {"text": "reply"}).data

    assert reply["id"] > first["id"]
    assert parse_datetime(reply["created"]) == ahead
    thread_row = alice_client.get(f"/api/threads/{thread.pk}/").data
    assert thread_row["updated"] == reply["created"]


def test_the_client_cannot_choose_sender_thread_read_flag_or_time(alice_client, alice, bob, thread):
    response = alice_client.post(
        messages_url(thread),
        {
            "text": "hi",
            "sender": bob.pk,
            "thread": 999,
            "is_read": True,
            "created": "2000-01-01T00:00:00Z",
            "id": 12345,
        },
    )

    assert response.status_code == 201
    message = Message.objects.get(pk=response.data["id"])
    assert message.sender == alice
    assert message.thread == thread
    assert message.is_read is False
    assert message.created.year > 2000
    assert message.pk != 12345


def test_text_is_stored_exactly_as_sent(alice_client, thread):
    text = '  <script>alert(1)</script>\n\ttabs & "quotes" — ünïcödé 🎉  '

    response = alice_client.post(messages_url(thread), {"text": text})

    assert response.status_code == 201
    assert response.data["text"] == text
    assert alice_client.get(messages_url(thread)).data["results"][0]["text"] == text


def test_text_of_the_maximum_length_is_accepted(alice_client, thread):
    response = alice_client.post(messages_url(thread), {"text": "x" * 5000})

    assert response.status_code == 201


@override_settings(CHAT_MESSAGE_MAX_LENGTH=10)
def test_the_maximum_length_is_a_setting(alice_client, thread):
    too_long = alice_client.post(messages_url(thread), {"text": "x" * 11})
    fits = alice_client.post(messages_url(thread), {"text": "x" * 10})

    assert too_long.status_code == 400
    assert too_long.data == {"text": ["Ensure this field has no more than 10 characters."]}
    assert fits.status_code == 201


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "This field is required."),
        ({"text": ""}, "This field may not be blank."),
        ({"text": "   \n\t "}, "This field may not be blank."),
        ({"text": None}, "This field may not be null."),
        ({"text": "x" * 5001}, "Ensure this field has no more than 5000 characters."),
        ({"text": ["a"]}, "Not a valid string."),
        ({"text": {"a": 1}}, "Not a valid string."),
        ({"text": "nul \x00 byte"}, "Null characters are not allowed."),
    ],
)
def test_invalid_text_is_400_with_a_field_error(alice_client, thread, body, message):
    response = alice_client.post(messages_url(thread), body)

    assert response.status_code == 400
    assert response.data == {"text": [message]}
    assert not Message.objects.exists()


@pytest.mark.parametrize("body", [["text"], "text", 1])
def test_body_that_is_not_an_object_is_400(alice_client, thread, body):
    response = alice_client.post(messages_url(thread), body)

    assert response.status_code == 400
    assert "non_field_errors" in response.data


def test_malformed_json_is_400(alice_client, thread):
    response = alice_client.post(
        messages_url(thread), '{"text": "unterminated', content_type="application/json"
    )

    assert response.status_code == 400
    assert not Message.objects.exists()


def test_both_participants_can_send_and_read(alice_client, bob_client, thread):
    alice_client.post(messages_url(thread), {"text": "hi bob"})
    bob_client.post(messages_url(thread), {"text": "hi alice"})

    for client in (alice_client, bob_client):
        texts = [m["text"] for m in client.get(messages_url(thread)).data["results"]]
        assert texts == ["hi alice", "hi bob"]


@pytest.mark.parametrize("slash", [False, True])
def test_list_is_newest_first_and_paginated(alice_client, alice, thread, slash):
    sent = [MessageFactory(thread=thread, sender=alice, text=f"m{i}") for i in range(5)]

    first = alice_client.get(messages_url(thread, slash), {"limit": 2})
    second = alice_client.get(messages_url(thread, slash), {"limit": 2, "offset": 2})

    assert first.status_code == 200
    assert first.data["count"] == 5
    assert [m["text"] for m in first.data["results"]] == ["m4", "m3"]
    assert [m["text"] for m in second.data["results"]] == ["m2", "m1"]
    assert first.data["next"] is not None
    assert {m["id"] for m in first.data["results"]} <= {m.pk for m in sent}


def test_list_only_has_this_threads_messages(alice_client, alice, bob, mallory, thread):
    MessageFactory(thread=thread, sender=bob, text="ours")
    MessageFactory(thread=ThreadFactory(participants=[mallory, bob]), text="someone else's")

    results = alice_client.get(messages_url(thread)).data["results"]

    assert [m["text"] for m in results] == ["ours"]


def test_list_of_an_empty_thread(alice_client, thread):
    response = alice_client.get(messages_url(thread))

    assert response.status_code == 200
    assert response.data["count"] == 0
    assert response.data["results"] == []


def test_messages_cannot_be_sent_with_other_methods(alice_client, thread):
    for method in ("put", "patch", "delete"):
        response = getattr(alice_client, method)(messages_url(thread), {"text": "x"})
        assert response.status_code == 405
