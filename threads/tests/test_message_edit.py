"""The sender fixes a typo or takes a message back; nobody else can."""

import pytest

from threads.models import Message
from threads.tests.factories import MessageFactory, ThreadFactory
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def message_url(message, slash=True):
    return f"/api/threads/{message.thread_id}/messages/{message.pk}" + ("/" if slash else "")


@pytest.fixture
def alices_message(alice, thread):
    return MessageFactory(thread=thread, sender=alice, text="helo")


@pytest.mark.parametrize("slash", [True, False])
def test_sender_edits_their_message(alice_client, alices_message, slash):
    response = alice_client.patch(message_url(alices_message, slash), {"text": "hello"})

    assert response.status_code == 200
    assert response.data["text"] == "hello"
    assert response.data["edited"] is not None
    assert response.data["created"] < response.data["edited"]
    listed = alice_client.get(f"/api/threads/{alices_message.thread_id}/messages/").data
    assert listed["results"][0]["text"] == "hello"


def test_edit_keeps_the_read_state_and_sender(alice_client, bob_client, alices_message):
    bob_client.patch(f"/api/threads/{alices_message.thread_id}/mark_read")

    response = alice_client.patch(message_url(alices_message), {"text": "hello", "is_read": False})

    assert response.data["is_read"] is True
    assert response.data["sender"] == alices_message.sender_id


def test_get_one_message(bob_client, alices_message):
    response = bob_client.get(message_url(alices_message))

    assert response.status_code == 200
    assert response.data["text"] == "helo"


def test_the_other_participant_cannot_edit_or_delete(bob_client, alices_message):
    edit = bob_client.patch(message_url(alices_message), {"text": "I put words in your mouth"})
    delete = bob_client.delete(message_url(alices_message))

    assert edit.status_code == delete.status_code == 403
    assert edit.data == {
        "detail": "You can only change your own messages.",
        "code": "permission_denied",
    }
    alices_message.refresh_from_db()
    assert (alices_message.text, alices_message.deleted) == ("helo", None)


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_a_stranger_gets_404(mallory_client, alices_message, method):
    response = getattr(mallory_client, method)(message_url(alices_message), {"text": "x"})

    assert response.status_code == 404
    alices_message.refresh_from_db()
    assert alices_message.text == "helo"


def test_a_message_of_another_thread_is_404(alice_client, alice, alices_message):
    other_thread = ThreadFactory(participants=[alice, UserFactory()])
    elsewhere = MessageFactory(thread=other_thread, sender=alice)  # alice's, elsewhere

    response = alice_client.patch(
        f"/api/threads/{alices_message.thread_id}/messages/{elsewhere.pk}/", {"text": "x"}
    )

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "This field is required."),
        ({"text": "  "}, "This field may not be blank."),
        ({"text": "x" * 5001}, "Ensure this field has no more than 5000 characters."),
        ({"text": 5}, None),
    ],
)
def test_edit_validates_text_like_a_new_message(alice_client, alices_message, body, error):
    response = alice_client.patch(message_url(alices_message), body)

    if error is None:  # a number is coerced to its text, as DRF's CharField does
        assert response.status_code == 200
        return
    assert response.status_code == 400
    assert response.data == {"text": [error]}


def test_sender_deletes_their_message_softly(alice_client, bob_client, alices_message):
    response = alice_client.delete(message_url(alices_message))

    assert response.status_code == 204
    [row] = bob_client.get(f"/api/threads/{alices_message.thread_id}/messages/").data["results"]
    assert row["id"] == alices_message.pk
    assert row["text"] == ""
    assert row["deleted"] is not None
    assert Message.objects.get(pk=alices_message.pk).text == ""


def test_a_deleted_message_is_no_longer_unread(alice_client, bob_client, alices_message):
    assert bob_client.get("/api/threads/unread_count/").data == {"unread_count": 1}

    alice_client.delete(message_url(alices_message))

    assert bob_client.get("/api/threads/unread_count/").data == {"unread_count": 0}
    row = bob_client.get("/api/threads/").data["results"][0]
    assert row["unread_count"] == 0
    assert row["last_message"]["deleted"] is not None


def test_deleting_twice_is_harmless(alice_client, alices_message):
    alice_client.delete(message_url(alices_message))

    assert alice_client.delete(message_url(alices_message)).status_code == 204


def test_a_deleted_message_cannot_be_edited(alice_client, alices_message):
    alice_client.delete(message_url(alices_message))

    response = alice_client.patch(message_url(alices_message), {"text": "back"})

    assert response.status_code == 409
    assert response.data["code"] == "message_deleted"
