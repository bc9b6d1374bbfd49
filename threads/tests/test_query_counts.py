"""Every endpoint answers in a constant number of SQL queries, whatever the data size.

Each test runs at a small and a large size with the same ceiling, so a query per row
(an N+1) fails the large case. The ceiling counts the auth lookup of the requester.
"""

from urllib.parse import quote

import pytest

from threads.models import MAX_DISTINCT_REACTIONS, Reaction
from threads.tests.factories import MessageFactory, ThreadFactory
from threads.tests.test_reactions import MANY
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_with_threads(alice):
    def make(count):
        threads = []
        for _ in range(count):
            other = UserFactory()
            thread = ThreadFactory(participants=[alice, other])
            MessageFactory(thread=thread, sender=other)
            MessageFactory(thread=thread, sender=alice)
            threads.append(thread)
        return threads

    return make


@pytest.mark.parametrize("count", [1, 50])
def test_thread_list(alice_client, alice_with_threads, django_assert_max_num_queries, count):
    alice_with_threads(count)

    with django_assert_max_num_queries(4):
        response = alice_client.get("/api/threads/", {"limit": 100})

    assert len(response.data["results"]) == count
    assert all(row["last_message"] and row["unread_count"] == 1 for row in response.data["results"])


@pytest.mark.parametrize("count", [1, 50])
def test_thread_detail_and_sub_resources(
    alice_client, alice_with_threads, django_assert_max_num_queries, count
):
    thread = alice_with_threads(count)[-1]
    for _ in range(count):
        MessageFactory(thread=thread, sender=thread.participants.last())

    # Pages of messages (the thread's last one included) read their reactions in one query.
    # Every write appends to the participants' change logs: two queries (their cursors,
    # then the entries); a thread's delete also redacts its messages in them (three more:
    # the people's inboxes, then the entries read and rewritten).
    for method, path, ceiling in [
        ("get", f"/api/threads/{thread.pk}/", 4),
        ("get", f"/api/threads/{thread.pk}/messages/?limit=100", 4),
        ("get", f"/api/threads/{thread.pk}/unread_count", 2),
        ("get", "/api/threads/unread_count/", 2),
        ("patch", f"/api/threads/{thread.pk}/mark_read", 11),
        ("post", f"/api/threads/{thread.pk}/messages", 11),
        # its attachments' rows and its reactions included
        ("delete", f"/api/threads/{thread.pk}/", 20),
    ]:
        with django_assert_max_num_queries(ceiling):
            response = getattr(alice_client, method)(path, {"text": "hi"})
        assert response.status_code < 300, (method, path, response.data)


@pytest.mark.parametrize("count", [1, 50])
def test_thread_create_or_get(
    alice_client, alice_with_threads, django_assert_max_num_queries, count
):
    alice_with_threads(count)
    other = UserFactory()

    # The change logs' two queries, and each person's thread as their list shows it.
    with django_assert_max_num_queries(18):
        created = alice_client.post("/api/threads/", {"participants": [other.pk]})
    with django_assert_max_num_queries(7):
        existing = alice_client.post("/api/threads/", {"participants": [other.pk]})

    assert (created.status_code, existing.status_code) == (201, 200)


@pytest.mark.parametrize("count", [1, 50])
def test_one_message_read_edit_delete(
    alice_client, alice, thread, django_assert_max_num_queries, count
):
    messages = MessageFactory.create_batch(count, thread=thread, sender=alice)
    url = f"/api/threads/{thread.pk}/messages/{messages[0].pk}/"

    # Each reads or (deleting) drops the message's reactions: one query. Writes append to
    # the change logs: two; a delete redacts the message's earlier entries: three more.
    for method, ceiling in [("get", 4), ("patch", 13), ("delete", 16)]:
        with django_assert_max_num_queries(ceiling):
            response = getattr(alice_client, method)(url, {"text": "changed"})
        assert response.status_code < 300, (method, response.data)


@pytest.mark.parametrize("count", [1, 50])
def test_people_and_blocks(alice_client, alice, django_assert_max_num_queries, count):
    others = [UserFactory() for _ in range(count)]
    for other in others:
        alice_client.post("/api/user/blocks/", {"user": other.pk})

    for path, ceiling in [
        ("/api/users/?limit=100", 3),
        ("/api/users/?search=user&limit=100", 3),
        (f"/api/users/{others[0].pk}/", 2),
        ("/api/user/me/", 1),
        ("/api/user/blocks/?limit=100", 3),
        ("/api/messages/?search=x&limit=100", 3),
    ]:
        with django_assert_max_num_queries(ceiling):
            response = alice_client.get(path)
        assert response.status_code == 200, (path, response.data)


@pytest.mark.parametrize("count", [1, 50])
def test_pages_of_messages_full_of_reactions(
    alice_client, alice, bob, thread, django_assert_max_num_queries, count
):
    """Every message carries the most different emoji a message may, from both people:
    a page still reads all its reactions in one query."""
    first = MessageFactory(thread=thread, sender=bob, text="before the rest")
    messages = MessageFactory.create_batch(count, thread=thread, sender=bob, text="needle")
    Reaction.objects.bulk_create(
        Reaction(message=message, user=user, emoji=emoji)
        for message in messages
        for user in (alice, bob)
        for emoji in MANY[:MAX_DISTINCT_REACTIONS]
    )
    messages_url = f"/api/threads/{thread.pk}/messages/"

    for path, params, ceiling in [
        (messages_url, {"limit": 100}, 4),
        (messages_url, {"limit": 100, "before": messages[-1].pk + 1}, 4),
        (messages_url, {"limit": 100, "after": first.pk}, 4),
        (messages_url, {"limit": 100, "around": messages[count // 2].pk}, 5),
        (messages_url, {"limit": 100, "around": "first_unread"}, 6),
        (messages_url, {"limit": 100, "search": "needle"}, 5),
        ("/api/messages/", {"limit": 100, "search": "needle"}, 4),
        (f"{messages_url}{messages[0].pk}/", {}, 4),
        ("/api/threads/", {}, 4),
        (f"/api/threads/{thread.pk}/", {}, 4),
    ]:
        with django_assert_max_num_queries(ceiling):
            response = alice_client.get(path, params)
        assert response.status_code == 200, (path, params, response.data)
        rows = response.data.get("results", [response.data])
        rows = [row.get("last_message", row) for row in rows]
        rows = [row for row in rows if row["id"] != first.pk]
        assert rows, (path, params)
        for row in rows:
            assert len(row["reactions"]) == MAX_DISTINCT_REACTIONS, (path, params)
            assert all(r["count"] == 2 and r["me"] for r in row["reactions"]), (path, params)


@pytest.mark.parametrize("count", [1, 50])
def test_reacting_costs_the_same_however_many_reactions(
    alice_client, alice, bob, thread, django_assert_max_num_queries, count
):
    messages = MessageFactory.create_batch(count, thread=thread, sender=bob)
    Reaction.objects.bulk_create(
        Reaction(message=message, user=bob, emoji=emoji)
        for message in messages
        for emoji in MANY[: MAX_DISTINCT_REACTIONS - 1]
    )
    url = f"/api/threads/{thread.pk}/messages/{messages[-1].pk}/reactions/"

    # The user, the thread (locked), the message and its reactions, the change; and the
    # service's transaction, a savepoint inside the test's (released or rolled back); and
    # the change logs' cursors and entries.
    for method, emoji, status, ceiling in [
        ("put", MANY[19], 201, 8),  # the twentieth emoji
        ("put", MANY[19], 200, 8),
        ("put", MANY[20], 409, 8),  # a twenty-first
        ("put", MANY[0], 201, 8),
        ("delete", MANY[0], 204, 8),
        ("delete", MANY[0], 404, 8),
    ]:
        with django_assert_max_num_queries(ceiling):
            response = getattr(alice_client, method)(url + quote(emoji))
        assert response.status_code == status, (method, emoji, response.data)
