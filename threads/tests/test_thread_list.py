"""Reading threads: the list (newest activity first, paginated), one thread, and deletion."""

import pytest

from threads.models import Message, Thread
from threads.tests.factories import MessageFactory, ThreadFactory
from users.tests.factories import UserFactory

THREADS = "/api/threads/"

pytestmark = pytest.mark.django_db


def test_list_shows_only_the_requesters_threads(alice_client, alice, bob, mallory, thread):
    ThreadFactory(participants=[bob, mallory])

    response = alice_client.get(THREADS)

    assert response.status_code == 200
    assert response.data["count"] == 1
    assert [row["id"] for row in response.data["results"]] == [thread.pk]


def test_list_is_empty_for_a_user_without_threads(mallory_client, thread):
    response = mallory_client.get(THREADS)

    assert response.status_code == 200
    assert response.data == {"count": 0, "next": None, "previous": None, "results": []}


def test_list_row_has_participants_last_message_and_unread_count(alice_client, alice, bob, thread):
    MessageFactory(thread=thread, sender=bob, text="first")
    last = MessageFactory(thread=thread, sender=bob, text="second")

    row = alice_client.get(THREADS).data["results"][0]

    assert row["participants"] == sorted([alice.pk, bob.pk])
    assert row["unread_count"] == 2
    assert row["last_message"] == {
        "id": last.pk,
        "thread": thread.pk,
        "sender": bob.pk,
        "sender_detail": {"id": bob.pk, "username": "bob"},
        "text": "second",
        "created": row["last_message"]["created"],
        "is_read": False,
        "edited": None,
        "deleted": None,
        "attachments": [],
        "reactions": [],
    }
    assert row["updated"] == row["last_message"]["created"]


def test_unread_count_in_the_list_is_per_requester(alice_client, bob_client, alice, bob, thread):
    MessageFactory(thread=thread, sender=alice, text="from alice")

    assert alice_client.get(THREADS).data["results"][0]["unread_count"] == 0
    assert bob_client.get(THREADS).data["results"][0]["unread_count"] == 1


def test_list_is_ordered_by_most_recent_activity(alice_client, alice):
    old, middle, new = (ThreadFactory(participants=[alice, UserFactory()]) for _ in range(3))
    MessageFactory(thread=old, sender=alice)  # a message makes the oldest thread the newest

    ids = [row["id"] for row in alice_client.get(THREADS).data["results"]]

    assert ids == [old.pk, new.pk, middle.pk]


def test_list_is_paginated_with_limit_and_offset(alice_client, alice):
    threads = [ThreadFactory(participants=[alice, UserFactory()]) for _ in range(5)]
    newest_first = [t.pk for t in reversed(threads)]

    first = alice_client.get(THREADS, {"limit": 2})
    second = alice_client.get(first.data["next"])

    assert first.data["count"] == 5
    assert [row["id"] for row in first.data["results"]] == newest_first[:2]
    assert first.data["previous"] is None
    assert [row["id"] for row in second.data["results"]] == newest_first[2:4]
    assert second.data["previous"] is not None


def test_list_limit_is_capped(alice_client, alice):
    for _ in range(3):
        ThreadFactory(participants=[alice, UserFactory()])

    response = alice_client.get(THREADS, {"limit": 10_000})

    assert response.status_code == 200
    assert len(response.data["results"]) == 3


@pytest.mark.parametrize("params", [{"limit": "abc"}, {"offset": "-1"}, {"limit": "-5"}])
def test_list_ignores_nonsense_paging_parameters(alice_client, thread, params):
    response = alice_client.get(THREADS, params)

    assert response.status_code == 200
    assert response.data["count"] == 1


@pytest.mark.parametrize("path", ["/api/threads/{id}/", "/api/threads/{id}"])
def test_retrieve_returns_the_same_row_as_the_list(alice_client, bob, thread, path):
    MessageFactory(thread=thread, sender=bob)

    response = alice_client.get(path.format(id=thread.pk))

    assert response.status_code == 200
    assert response.data == alice_client.get(THREADS).data["results"][0]


def test_the_count_follows_creates_repeats_and_deletes(alice_client, bob_client, alice, bob):
    carol = UserFactory()
    with_bob = alice_client.post(THREADS, {"participants": [bob.pk]}).data
    alice_client.post(THREADS, {"participants": [carol.pk]})
    alice_client.post(THREADS, {"participants": [bob.pk]})  # the same thread again
    bob_client.post(THREADS, {"participants": [alice.pk]})  # and from the other side
    assert alice_client.get(THREADS).data["count"] == 2
    assert bob_client.get(THREADS).data["count"] == 1

    bob_client.delete(f"/api/threads/{with_bob['id']}/")

    assert alice_client.get(THREADS).data["count"] == 1
    assert bob_client.get(THREADS).data["count"] == 0


def test_saving_a_user_loaded_earlier_keeps_their_thread_count(alice_client, alice, bob):
    loaded_before = type(alice).objects.get(pk=alice.pk)  # as an admin form would hold it
    alice_client.post(THREADS, {"participants": [bob.pk]})

    loaded_before.email = "alice@example.com"
    loaded_before.save()

    assert alice_client.get(THREADS).data["count"] == 1


def test_delete_removes_the_thread_and_its_messages_for_both(alice_client, bob_client, bob, thread):
    MessageFactory(thread=thread, sender=bob)

    response = alice_client.delete(f"/api/threads/{thread.pk}/")

    assert response.status_code == 204
    assert not Thread.objects.filter(pk=thread.pk).exists()
    assert not Message.objects.filter(thread_id=thread.pk).exists()
    assert bob_client.get(f"/api/threads/{thread.pk}/").status_code == 404
    assert bob_client.get(THREADS).data["count"] == 0


def test_after_delete_the_pair_can_start_a_new_thread(alice_client, bob, thread):
    alice_client.delete(f"/api/threads/{thread.pk}/")

    response = alice_client.post(THREADS, {"participants": [bob.pk]})

    assert response.status_code == 201
    assert response.data["id"] != thread.pk


def test_delete_leaves_other_threads_alone(alice_client, alice, thread):
    other = ThreadFactory(participants=[alice, UserFactory()])
    MessageFactory(thread=other, sender=alice)

    alice_client.delete(f"/api/threads/{thread.pk}/")

    assert Thread.objects.filter(pk=other.pk).exists()
    assert Message.objects.filter(thread=other).count() == 1


@pytest.mark.parametrize("method", ["put", "patch"])
def test_threads_cannot_be_edited(alice_client, thread, method):
    response = getattr(alice_client, method)(f"/api/threads/{thread.pk}/", {"participants": []})

    assert response.status_code == 405


@pytest.mark.parametrize("path", ["/api/threads/", "/api/threads/{id}/messages/"])
def test_an_offset_beyond_any_database_integer_is_an_empty_page(alice_client, thread, path):
    response = alice_client.get(
        path.format(id=thread.pk), {"offset": "20880782128658627405249773568", "limit": 5}
    )

    assert response.status_code == 200
    assert response.data["results"] == []
