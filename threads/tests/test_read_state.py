"""Unread counts and marking read, seen from both participants."""

import pytest

from threads.tests.factories import MessageFactory, ThreadFactory
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def url(thread, name, slash=False):
    return f"/api/threads/{thread.pk}/{name}" + ("/" if slash else "")


@pytest.mark.parametrize("slash", [False, True])
def test_unread_count_counts_messages_from_the_other_participant(
    alice_client, bob_client, alice, bob, thread, slash
):
    MessageFactory(thread=thread, sender=bob)
    MessageFactory(thread=thread, sender=bob)
    MessageFactory(thread=thread, sender=alice)

    assert alice_client.get(url(thread, "unread_count", slash)).data == {"unread_count": 2}
    assert bob_client.get(url(thread, "unread_count", slash)).data == {"unread_count": 1}


def test_unread_count_of_an_empty_thread_is_zero(alice_client, thread):
    response = alice_client.get(url(thread, "unread_count"))

    assert response.status_code == 200
    assert response.data == {"unread_count": 0}


@pytest.mark.parametrize("slash", [False, True])
def test_mark_read_marks_only_what_the_reader_received(
    alice_client, bob_client, alice, bob, thread, slash
):
    MessageFactory(thread=thread, sender=bob)
    MessageFactory(thread=thread, sender=bob)
    mine = MessageFactory(thread=thread, sender=alice)

    response = alice_client.patch(url(thread, "mark_read", slash))

    assert response.status_code == 200
    assert response.data == {"marked": 2}
    assert alice_client.get(url(thread, "unread_count")).data == {"unread_count": 0}
    # Alice's own message is still unread for Bob: reading is per recipient.
    assert bob_client.get(url(thread, "unread_count")).data == {"unread_count": 1}
    mine.refresh_from_db()
    assert mine.is_read is False


def test_mark_read_shows_in_the_message_list(alice_client, bob, thread):
    MessageFactory(thread=thread, sender=bob)

    alice_client.patch(url(thread, "mark_read"))

    [message] = alice_client.get(url(thread, "messages")).data["results"]
    assert message["is_read"] is True


def test_mark_read_twice_marks_nothing_the_second_time(alice_client, bob, thread):
    MessageFactory(thread=thread, sender=bob)

    alice_client.patch(url(thread, "mark_read"))
    response = alice_client.patch(url(thread, "mark_read"))

    assert response.data == {"marked": 0}


def test_mark_read_leaves_later_messages_unread(alice_client, bob, thread):
    MessageFactory(thread=thread, sender=bob)
    alice_client.patch(url(thread, "mark_read"))

    MessageFactory(thread=thread, sender=bob)

    assert alice_client.get(url(thread, "unread_count")).data == {"unread_count": 1}


def test_mark_read_touches_only_this_thread(alice_client, alice, bob, thread):
    other = ThreadFactory(participants=[alice, UserFactory()])
    MessageFactory(thread=thread, sender=bob)
    MessageFactory(thread=other, sender=other.participants.exclude(pk=alice.pk).get())

    alice_client.patch(url(thread, "mark_read"))

    assert alice_client.get(url(other, "unread_count")).data == {"unread_count": 1}


def test_mark_read_ignores_unknown_fields(alice_client, bob, thread):
    MessageFactory(thread=thread, sender=bob)

    response = alice_client.patch(url(thread, "mark_read"), {"is_read": False})

    assert response.data == {"marked": 1}


def test_mark_read_only_answers_patch(alice_client, thread):
    for method in ("get", "post", "put", "delete"):
        assert getattr(alice_client, method)(url(thread, "mark_read")).status_code == 405


@pytest.mark.parametrize("path", ["/api/threads/unread_count/", "/api/threads/unread_count"])
def test_unread_total_spans_all_of_the_requesters_threads(alice_client, alice, bob, path):
    with_bob = ThreadFactory(participants=[alice, bob])
    carol = UserFactory(username="carol")
    with_carol = ThreadFactory(participants=[alice, carol])
    MessageFactory(thread=with_bob, sender=bob)
    MessageFactory(thread=with_carol, sender=carol)
    MessageFactory(thread=with_carol, sender=carol)
    MessageFactory(thread=with_carol, sender=alice)  # her own: never unread for her
    MessageFactory(thread=ThreadFactory(participants=[bob, carol]), sender=bob)  # not hers

    response = alice_client.get(path)

    assert response.status_code == 200
    assert response.data == {"unread_count": 3}


def test_unread_total_drops_after_mark_read(alice_client, bob, thread):
    MessageFactory(thread=thread, sender=bob)

    alice_client.patch(url(thread, "mark_read"))

    assert alice_client.get("/api/threads/unread_count/").data == {"unread_count": 0}


def test_unread_total_is_zero_without_threads(mallory_client):
    assert mallory_client.get("/api/threads/unread_count/").data == {"unread_count": 0}


def test_mark_read_up_to_marks_only_what_the_reader_has_seen(alice_client, bob, thread):
    seen = [MessageFactory(thread=thread, sender=bob) for _ in range(2)]
    MessageFactory(thread=thread, sender=bob)  # arrived after the reader's screen

    response = alice_client.patch(url(thread, "mark_read"), {"up_to": seen[-1].pk})

    assert response.data == {"marked": 2}
    assert alice_client.get(url(thread, "unread_count")).data == {"unread_count": 1}


def test_mark_read_up_to_an_older_message_marks_nothing_new(alice_client, bob, thread):
    first = MessageFactory(thread=thread, sender=bob)
    alice_client.patch(url(thread, "mark_read"))
    MessageFactory(thread=thread, sender=bob)

    response = alice_client.patch(url(thread, "mark_read"), {"up_to": first.pk})

    assert response.data == {"marked": 0}


@pytest.mark.parametrize("up_to", ["x", 0, -1, 1.5, [1], 2**64])
def test_mark_read_with_a_bad_up_to_is_400(alice_client, bob, thread, up_to):
    MessageFactory(thread=thread, sender=bob)

    response = alice_client.patch(url(thread, "mark_read"), {"up_to": up_to})

    assert response.status_code == 400
    assert "up_to" in response.data
    assert alice_client.get(url(thread, "unread_count")).data == {"unread_count": 1}


def test_mark_read_with_nothing_new_costs_two_queries(
    alice_client, bob, thread, django_assert_num_queries
):
    MessageFactory(thread=thread, sender=bob)
    alice_client.patch(url(thread, "mark_read"))

    with django_assert_num_queries(2):  # the user, the thread with the reader's counter
        response = alice_client.patch(url(thread, "mark_read"))

    assert response.data == {"marked": 0}
