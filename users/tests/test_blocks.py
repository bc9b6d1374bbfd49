"""Blocking: a blocked user can no longer start a thread with the blocker or post to them."""

import pytest

from conftest import client_for
from threads.tests.factories import ThreadFactory

pytestmark = pytest.mark.django_db

BLOCKS = "/api/user/blocks/"


def test_block_a_user_and_list_blocks(alice_client, bob):
    response = alice_client.post(BLOCKS, {"user": bob.pk})

    assert response.status_code == 201
    assert response.data["user"] == {"id": bob.pk, "username": "bob"}
    listed = alice_client.get(BLOCKS)
    assert listed.status_code == 200
    assert [row["user"]["id"] for row in listed.data["results"]] == [bob.pk]


def test_blocking_twice_returns_the_existing_block(alice_client, bob):
    alice_client.post(BLOCKS, {"user": bob.pk})

    again = alice_client.post(BLOCKS, {"user": bob.pk})

    assert again.status_code == 200
    assert alice_client.get(BLOCKS).data["count"] == 1


def test_blocks_are_private_to_the_blocker(alice_client, bob_client, bob, alice):
    alice_client.post(BLOCKS, {"user": bob.pk})

    assert bob_client.get(BLOCKS).data["count"] == 0
    assert bob_client.delete(f"{BLOCKS}{bob.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "user"),
        ({"user": 987654}, "user"),
        ({"user": "x"}, "user"),
        ({"user": None}, "user"),
        ({"user": 1.5}, "user"),
        ({"user": [1]}, "user"),
        ({"user": 2**64}, "user"),
    ],
)
def test_block_with_bad_input_is_400(alice_client, body, field):
    response = alice_client.post(BLOCKS, body)

    assert response.status_code == 400
    assert field in response.data


def test_cannot_block_yourself(alice_client, alice):
    response = alice_client.post(BLOCKS, {"user": alice.pk})

    assert response.status_code == 400
    assert response.data == {"user": ["You cannot block yourself."]}


def test_blocked_user_cannot_start_a_thread_with_the_blocker(alice_client, bob_client, alice, bob):
    alice_client.post(BLOCKS, {"user": bob.pk})

    response = bob_client.post("/api/threads/", {"participants": [alice.pk]})

    assert response.status_code == 403
    assert "blocked" in response.data["detail"]
    assert response.data["code"] == "permission_denied"


def test_blocked_user_cannot_post_into_the_thread(alice_client, bob_client, bob, thread):
    alice_client.post(BLOCKS, {"user": bob.pk})

    response = bob_client.post(f"/api/threads/{thread.pk}/messages", {"text": "hello?"})

    assert response.status_code == 403
    assert "blocked" in response.data["detail"]
    assert thread.messages.count() == 0


def test_the_blocker_can_still_post_and_read(alice_client, bob, thread):
    alice_client.post(BLOCKS, {"user": bob.pk})

    assert (
        alice_client.post(f"/api/threads/{thread.pk}/messages", {"text": "bye"}).status_code == 201
    )
    assert alice_client.get(f"/api/threads/{thread.pk}/messages/").status_code == 200


def test_a_block_does_not_affect_other_people(alice_client, bob, mallory):
    alice_client.post(BLOCKS, {"user": bob.pk})
    thread = ThreadFactory(participants=[bob, mallory])
    response = client_for(bob).post(f"/api/threads/{thread.pk}/messages", {"text": "hi"})

    assert response.status_code == 201


@pytest.mark.parametrize("path", [f"{BLOCKS}{{id}}/", f"{BLOCKS}{{id}}"])
def test_unblocking_restores_normal_behaviour(alice_client, bob_client, alice, bob, thread, path):
    alice_client.post(BLOCKS, {"user": bob.pk})

    response = alice_client.delete(path.format(id=bob.pk))

    assert response.status_code == 204
    assert alice_client.get(BLOCKS).data["count"] == 0
    assert bob_client.post(f"/api/threads/{thread.pk}/messages", {"text": "hi"}).status_code == 201


def test_unblocking_someone_not_blocked_is_404(alice_client, bob):
    response = alice_client.delete(f"{BLOCKS}{bob.pk}/")

    assert response.status_code == 404
    assert response.data["code"] == "not_found"


def test_blocks_need_a_token(anon_client, bob):
    assert anon_client.get(BLOCKS).status_code == 401
    assert anon_client.post(BLOCKS, {"user": bob.pk}).status_code == 401
    assert anon_client.delete(f"{BLOCKS}{bob.pk}/").status_code == 401


def test_blocked_user_cannot_edit_their_messages_in_the_thread(
    alice_client, bob_client, bob, thread
):
    url = f"/api/threads/{thread.pk}/messages"
    message_id = bob_client.post(url, {"text": "hi"}).data["id"]
    alice_client.post(BLOCKS, {"user": bob.pk})

    edit = bob_client.patch(f"{url}/{message_id}/", {"text": "something worse"})
    delete = bob_client.delete(f"{url}/{message_id}/")

    assert edit.status_code == 403
    assert delete.status_code == 204  # taking one's own words back stays allowed


def test_blocked_user_still_gets_the_existing_thread_back(
    alice_client, bob_client, alice, bob, thread
):
    alice_client.post(BLOCKS, {"user": bob.pk})

    response = bob_client.post("/api/threads/", {"participants": [alice.pk]})

    assert response.status_code == 200
    assert response.data["id"] == thread.pk


@pytest.mark.django_db(transaction=True)
def test_concurrent_blocks_and_unblocks_never_fail(alice, bob):
    from conftest import WORKERS, run_concurrently

    calls = [
        (lambda: client_for(alice).post(BLOCKS, {"user": bob.pk}))
        if i % 2
        else (lambda: client_for(alice).delete(f"{BLOCKS}{bob.pk}/"))
        for i in range(WORKERS)
    ]

    for _ in range(3):
        statuses = {r.status_code for r in run_concurrently(calls)}
        assert statuses <= {200, 201, 204, 404}
