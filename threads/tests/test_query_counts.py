"""Every endpoint answers in a constant number of SQL queries, whatever the data size.

Each test runs at a small and a large size with the same ceiling, so a query per row
(an N+1) fails the large case. The ceiling counts the auth lookup of the requester.
"""

import pytest

from threads.tests.factories import MessageFactory, ThreadFactory
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

    for method, path, ceiling in [
        ("get", f"/api/threads/{thread.pk}/", 3),
        ("get", f"/api/threads/{thread.pk}/messages/?limit=100", 3),
        ("get", f"/api/threads/{thread.pk}/unread_count", 2),
        ("get", "/api/threads/unread_count/", 2),
        ("patch", f"/api/threads/{thread.pk}/mark_read", 9),
        ("post", f"/api/threads/{thread.pk}/messages", 9),
        ("delete", f"/api/threads/{thread.pk}/", 14),  # its attachments' rows included
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

    with django_assert_max_num_queries(14):
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

    for method, ceiling in [("get", 3), ("patch", 10), ("delete", 10)]:
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
