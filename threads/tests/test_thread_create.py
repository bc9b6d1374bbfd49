"""Starting a conversation: `POST /api/threads/` creates the pair's thread or returns it."""

import pytest

from threads.models import Thread
from users.tests.factories import UserFactory

THREADS = "/api/threads/"

pytestmark = pytest.mark.django_db


def test_create_thread_listing_both_participants(alice_client, alice, bob):
    response = alice_client.post(THREADS, {"participants": [alice.pk, bob.pk]})

    assert response.status_code == 201
    assert response.data["participants"] == sorted([alice.pk, bob.pk])
    assert response.data["participants_detail"] == [
        {"id": alice.pk, "username": "alice"},
        {"id": bob.pk, "username": "bob"},
    ]
    assert response.data["last_message"] is None
    assert response.data["unread_count"] == 0
    assert set(response.data) == {
        "id",
        "participants",
        "participants_detail",
        "created",
        "updated",
        "last_message",
        "unread_count",
    }


def test_create_thread_with_the_requester_implied(alice_client, alice, bob):
    response = alice_client.post(THREADS, {"participants": [bob.pk]})

    assert response.status_code == 201
    assert response.data["participants"] == sorted([alice.pk, bob.pk])


def test_create_without_trailing_slash(alice_client, bob):
    response = alice_client.post("/api/threads", {"participants": [bob.pk]})

    assert response.status_code == 201


def test_creating_the_same_pair_again_returns_the_existing_thread(alice_client, alice, bob):
    first = alice_client.post(THREADS, {"participants": [alice.pk, bob.pk]})

    again = alice_client.post(THREADS, {"participants": [bob.pk]})

    assert again.status_code == 200
    assert again.data["id"] == first.data["id"]
    assert Thread.objects.count() == 1


def test_the_other_participant_creating_gets_the_same_thread(alice_client, bob_client, alice, bob):
    first = alice_client.post(THREADS, {"participants": [alice.pk, bob.pk]})

    from_bob = bob_client.post(THREADS, {"participants": [alice.pk]})

    assert from_bob.status_code == 200
    assert from_bob.data["id"] == first.data["id"]
    assert Thread.objects.count() == 1


def test_a_different_pair_gets_a_different_thread(alice_client, bob, mallory):
    with_bob = alice_client.post(THREADS, {"participants": [bob.pk]})

    with_mallory = alice_client.post(THREADS, {"participants": [mallory.pk]})

    assert with_mallory.status_code == 201
    assert with_mallory.data["id"] != with_bob.data["id"]


def test_existing_thread_is_returned_with_its_last_message_and_unread_count(
    alice_client, bob_client, alice, bob
):
    thread_id = alice_client.post(THREADS, {"participants": [bob.pk]}).data["id"]
    alice_client.post(f"/api/threads/{thread_id}/messages", {"text": "hi bob"})

    response = bob_client.post(THREADS, {"participants": [alice.pk]})

    assert response.status_code == 200
    assert response.data["last_message"]["text"] == "hi bob"
    assert response.data["unread_count"] == 1


@pytest.mark.parametrize(
    ("participants", "message"),
    [
        ([], "may not be empty"),
        ("me", 'Expected a list of items but got type "str"'),
        (None, "may not be null"),
        (5, 'Expected a list of items but got type "int"'),
        (["x"], "A valid integer is required"),
        ([True], "A valid integer is required"),
        ([1.5], "A valid integer is required"),
        ([{"id": 1}], "A valid integer is required"),
        ([0], "greater than or equal to 1"),
        ([-3], "greater than or equal to 1"),
        ([2**64], "less than or equal to"),
    ],
)
def test_create_with_wrong_types_is_400(alice_client, participants, message):
    response = alice_client.post(THREADS, {"participants": participants})

    assert response.status_code == 400
    assert message in str(response.data["participants"])


def test_create_with_missing_participants_is_400(alice_client):
    response = alice_client.post(THREADS, {})

    assert response.status_code == 400
    assert "required" in str(response.data["participants"])


def test_create_with_yourself_only_is_400(alice_client, alice):
    response = alice_client.post(THREADS, {"participants": [alice.pk]})

    assert response.status_code == 400
    assert "yourself" in str(response.data["participants"])


def test_create_with_the_same_user_twice_is_400(alice_client, alice, bob):
    for participants in ([alice.pk, alice.pk], [bob.pk, bob.pk]):
        response = alice_client.post(THREADS, {"participants": participants})

        assert response.status_code == 400
        assert "two distinct users" in str(response.data["participants"])


def test_create_for_two_other_users_is_400(mallory_client, alice, bob):
    response = mallory_client.post(THREADS, {"participants": [alice.pk, bob.pk]})

    assert response.status_code == 400
    assert "must be one of the participants" in str(response.data["participants"])
    assert not Thread.objects.exists()


def test_create_with_more_than_two_users_is_400(alice_client, alice, bob, mallory):
    response = alice_client.post(THREADS, {"participants": [alice.pk, bob.pk, mallory.pk]})

    assert response.status_code == 400
    assert "no more than 2" in str(response.data["participants"])


def test_create_with_unknown_user_is_400(alice_client, alice):
    response = alice_client.post(THREADS, {"participants": [alice.pk, 999_999]})

    assert response.status_code == 400
    assert "User 999999 does not exist" in str(response.data["participants"])


def test_create_with_deactivated_user_is_400(alice_client):
    gone = UserFactory(username="gone", is_active=False)

    response = alice_client.post(THREADS, {"participants": [gone.pk]})

    assert response.status_code == 400
    assert f"User {gone.pk} does not exist" in str(response.data["participants"])


@pytest.mark.parametrize("body", [["participants"], "participants", 42])
def test_create_with_a_body_that_is_not_an_object_is_400(alice_client, body):
    response = alice_client.post(THREADS, body)

    assert response.status_code == 400
    assert "non_field_errors" in response.data


def test_create_with_malformed_json_is_400(alice_client):
    response = alice_client.post(THREADS, '{"participants": [1,', content_type="application/json")

    assert response.status_code == 400
    assert "JSON parse error" in response.data["detail"]


def test_create_ignores_extra_fields(alice_client, bob):
    response = alice_client.post(THREADS, {"participants": [bob.pk], "id": 777, "unread_count": 9})

    assert response.status_code == 201
    assert response.data["id"] != 777
    assert response.data["unread_count"] == 0


def test_a_new_thread_was_last_active_when_it_was_created(alice_client, bob):
    response = alice_client.post(THREADS, {"participants": [bob.pk]})

    assert response.data["updated"] == response.data["created"]
