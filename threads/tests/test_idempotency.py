"""Retries are safe: a POST with a client_id is stored once, however often it is sent."""

import uuid

import pytest

from conftest import WORKERS, client_for, run_concurrently
from threads.models import Message

pytestmark = pytest.mark.django_db


def post(client, thread, **body):
    return client.post(f"/api/threads/{thread.pk}/messages", body)


def test_a_retry_returns_the_stored_message(alice_client, thread):
    client_id = str(uuid.uuid4())

    first = post(alice_client, thread, text="hello", client_id=client_id)
    retry = post(alice_client, thread, text="hello", client_id=client_id)

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.data == first.data
    assert Message.objects.count() == 1
    assert (
        alice_client.get(f"/api/threads/{thread.pk}/").data["last_message"]["id"]
        == first.data["id"]
    )


def test_a_retry_does_not_count_twice(alice_client, bob_client, thread):
    client_id = str(uuid.uuid4())

    for _ in range(3):
        post(alice_client, thread, text="hello", client_id=client_id)

    assert bob_client.get(f"/api/threads/{thread.pk}/unread_count").data == {"unread_count": 1}
    assert bob_client.get(f"/api/threads/{thread.pk}/messages/").data["count"] == 1


def test_messages_without_client_id_are_all_kept(alice_client, thread):
    post(alice_client, thread, text="hello")
    post(alice_client, thread, text="hello")

    assert Message.objects.count() == 2


def test_reusing_a_client_id_for_another_text_is_409(alice_client, thread):
    client_id = str(uuid.uuid4())
    post(alice_client, thread, text="hello", client_id=client_id)

    response = post(alice_client, thread, text="something else", client_id=client_id)

    assert response.status_code == 409
    assert response.data["code"] == "client_id_reused"
    assert Message.objects.count() == 1


def test_a_client_id_belongs_to_its_sender_and_thread(
    alice_client, bob_client, alice, mallory, thread
):
    from threads.tests.factories import ThreadFactory

    other_thread = ThreadFactory(participants=[alice, mallory])
    client_id = str(uuid.uuid4())

    statuses = [
        post(alice_client, thread, text="hi", client_id=client_id).status_code,
        post(bob_client, thread, text="hi", client_id=client_id).status_code,
        post(alice_client, other_thread, text="hi", client_id=client_id).status_code,
    ]

    assert statuses == [201, 201, 201]
    assert Message.objects.count() == 3


@pytest.mark.parametrize("client_id", ["not-a-uuid", "1234", "", None, [1]])
def test_a_malformed_client_id_is_400(alice_client, thread, client_id):
    response = post(alice_client, thread, text="hi", client_id=client_id)

    assert response.status_code == 400
    assert "client_id" in response.data
    assert not Message.objects.exists()


def test_a_retry_of_a_deleted_message_returns_it_as_deleted(alice_client, thread):
    client_id = str(uuid.uuid4())
    first = post(alice_client, thread, text="oops", client_id=client_id)
    alice_client.delete(f"/api/threads/{thread.pk}/messages/{first.data['id']}/")

    retry = post(alice_client, thread, text="oops", client_id=client_id)

    assert retry.status_code == 200
    assert retry.data["deleted"] is not None
    assert Message.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_store_one_message(alice, bob):
    thread_id = client_for(alice).post("/api/threads/", {"participants": [bob.pk]}).data["id"]
    url = f"/api/threads/{thread_id}/messages"
    body = {"text": "sent over a flaky network", "client_id": str(uuid.uuid4())}

    responses = run_concurrently([lambda: client_for(alice).post(url, body)] * WORKERS)

    assert sorted(r.status_code for r in responses) == [200] * (WORKERS - 1) + [201]
    assert len({r.data["id"] for r in responses}) == 1
    assert Message.objects.count() == 1
    assert client_for(bob).get(f"/api/threads/{thread_id}/unread_count").data == {"unread_count": 1}
