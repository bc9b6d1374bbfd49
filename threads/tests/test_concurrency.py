"""Concurrent requests: nothing duplicated, nothing lost, no 500s.

These use real database transactions from several threads at once (transactional_db),
so the database's own locking and unique constraints are what is being tested.
"""

import pytest

from conftest import WORKERS, client_for, run_concurrently
from threads.models import Message, Thread


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_of_the_same_pair_make_one_thread(alice, bob):
    clients = [client_for(alice if i % 2 else bob) for i in range(WORKERS)]
    others = [bob if i % 2 else alice for i in range(WORKERS)]

    responses = run_concurrently(
        [
            lambda c=client, o=other: c.post("/api/threads/", {"participants": [o.pk]})
            for client, other in zip(clients, others, strict=True)
        ]
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (WORKERS - 1) + [201]
    assert len({r.data["id"] for r in responses}) == 1
    assert Thread.objects.count() == 1
    assert Thread.objects.get().participants.count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_are_all_kept(alice, bob):
    thread_id = client_for(alice).post("/api/threads/", {"participants": [bob.pk]}).data["id"]
    url = f"/api/threads/{thread_id}/messages"
    senders = [alice if i % 2 else bob for i in range(WORKERS)]

    responses = run_concurrently(
        [
            lambda user=user, i=i: client_for(user).post(url, {"text": f"message {i}"})
            for i, user in enumerate(senders)
        ]
    )

    assert [r.status_code for r in responses] == [201] * WORKERS
    assert sorted(Message.objects.values_list("text", flat=True)) == sorted(
        f"message {i}" for i in range(WORKERS)
    )
    latest = Message.objects.order_by("-created").first()
    assert Thread.objects.get().updated == latest.created


@pytest.mark.django_db(transaction=True)
def test_deleting_a_thread_while_messages_arrive(alice, bob):
    thread_id = client_for(alice).post("/api/threads/", {"participants": [bob.pk]}).data["id"]
    url = f"/api/threads/{thread_id}/messages"
    posts = [lambda i=i: client_for(alice).post(url, {"text": f"m{i}"}) for i in range(WORKERS)]
    delete = [lambda: client_for(bob).delete(f"/api/threads/{thread_id}/")]

    responses = run_concurrently(posts[: WORKERS // 2] + delete + posts[WORKERS // 2 :])

    statuses = [r.status_code for r in responses]
    assert 204 in statuses
    assert set(statuses) <= {201, 204, 404}
    assert not Thread.objects.filter(pk=thread_id).exists()
    assert not Message.objects.filter(thread_id=thread_id).exists()


@pytest.mark.django_db(transaction=True)
def test_deleting_a_thread_while_it_is_read_and_cleaned_up(alice, bob):
    """Writers that lock rows in different orders (a delete removes participants before
    messages; mark-read locks messages first) must queue on the thread, not deadlock."""
    thread_id = client_for(alice).post("/api/threads/", {"participants": [bob.pk]}).data["id"]
    url = f"/api/threads/{thread_id}/messages"
    own = [client_for(bob).post(url, {"text": f"b{i}"}).data["id"] for i in range(WORKERS)]
    calls = [lambda: client_for(alice).patch(f"/api/threads/{thread_id}/mark_read")] * 3
    calls += [lambda mid=mid: client_for(bob).delete(f"{url}/{mid}/") for mid in own[:3]]
    calls.insert(3, lambda: client_for(bob).delete(f"/api/threads/{thread_id}/"))

    statuses = {r.status_code for r in run_concurrently(calls)}

    assert statuses <= {200, 204, 404}
    assert not Thread.objects.filter(pk=thread_id).exists()
