"""Deleting one's account: it takes the password; the account is closed and anonymised, and
the people it talked to keep their conversations, with a deleted account in them."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from conftest import client_for
from threads.tests.factories import ThreadFactory
from users.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def delete_account(client, password=DEFAULT_PASSWORD):
    return client.delete("/api/user/me/", {"current_password": password})


@pytest.fixture
def alice_pair(anon_client, alice) -> dict:
    return anon_client.post("/api/token/", {"username": "alice", "password": DEFAULT_PASSWORD}).data


def test_alice_deletes_her_account(alice_client, alice):
    response = delete_account(alice_client)

    assert response.status_code == 204
    alice.refresh_from_db()
    assert not alice.is_active
    assert alice.deleted is not None
    assert alice.username == f"deleted-{alice.pk}"
    assert not alice.has_usable_password()


def test_the_account_is_anonymised(alice):
    alice.first_name, alice.last_name, alice.email = "Alice", "Liddell", "alice@example.com"
    alice.is_staff = True
    alice.save()

    delete_account(client_for(alice))

    alice.refresh_from_db()
    assert (alice.first_name, alice.last_name, alice.email) == ("", "", "")
    assert not alice.is_staff


def test_a_deleted_account_cannot_log_in_by_its_old_or_new_name(anon_client, alice):
    delete_account(client_for(alice))

    for username in ("alice", f"deleted-{alice.pk}"):
        response = anon_client.post(
            "/api/token/", {"username": username, "password": DEFAULT_PASSWORD}
        )
        assert response.status_code == 401


def test_its_tokens_stop_working(anon_client, alice, alice_pair):
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {alice_pair['access']}")

    assert delete_account(anon_client).status_code == 204

    assert anon_client.get("/api/user/me/").status_code == 401
    anon_client.credentials()
    refreshed = anon_client.post("/api/token/refresh/", {"refresh": alice_pair["refresh"]})
    assert refreshed.status_code == 401
    assert not OutstandingToken.objects.filter(user=alice, blacklistedtoken__isnull=True).exists()


def test_the_other_participant_keeps_the_conversation(alice, bob, bob_client, thread):
    bob_client.post(f"/api/threads/{thread.pk}/messages", {"text": "hi alice"})
    client_for(alice).post(f"/api/threads/{thread.pk}/messages", {"text": "bye bob"})

    delete_account(client_for(alice))

    threads = bob_client.get("/api/threads/").data["results"]
    assert [row["id"] for row in threads] == [thread.pk]
    gone = {"id": alice.pk, "username": f"deleted-{alice.pk}"}
    assert gone in threads[0]["participants_detail"]
    messages = bob_client.get(f"/api/threads/{thread.pk}/messages/").data["results"]
    assert [(m["sender_detail"], m["text"]) for m in messages] == [
        (gone, "bye bob"),
        ({"id": bob.pk, "username": "bob"}, "hi alice"),
    ]


def test_nobody_can_start_a_thread_with_a_deleted_account(alice, mallory_client):
    delete_account(client_for(alice))

    response = mallory_client.post("/api/threads/", {"participants": [alice.pk]})

    assert response.status_code == 400
    assert response.data == {"participants": [f"User {alice.pk} has deleted their account."]}


def test_a_deleted_account_is_not_in_the_user_directory(alice, mallory_client):
    delete_account(client_for(alice))

    assert mallory_client.get("/api/users/", {"search": "deleted"}).data["results"] == []
    assert mallory_client.get("/api/users/", {"search": "alice"}).data["results"] == []
    assert mallory_client.get(f"/api/users/{alice.pk}/").status_code == 404


def test_the_name_is_free_again_and_the_placeholder_is_reserved(anon_client, alice):
    delete_account(client_for(alice))
    body = {"password": "another-good-passphrase"}

    again = anon_client.post("/api/user/register/", {"username": "Alice", **body})
    placeholder = anon_client.post(
        "/api/user/register/", {"username": f"Deleted-{alice.pk + 1}", **body}
    )

    assert again.status_code == 201
    assert placeholder.status_code == 400
    assert set(placeholder.data) == {"username"}


@pytest.mark.parametrize("body", [{"current_password": "not-my-password"}, {}])
def test_a_wrong_or_missing_password_deletes_nothing(alice_client, alice, body):
    response = alice_client.delete("/api/user/me/", body)

    assert response.status_code == 400
    assert set(response.data) == {"current_password"}
    alice.refresh_from_db()
    assert alice.is_active
    assert alice.username == "alice"


def test_a_stranger_deletes_only_their_own_account(alice, mallory):
    """Mallory knows alice's password, but her token is hers: alice stays."""
    mallory.set_password("mallorys-own-passphrase")
    mallory.save()
    mallory_client = client_for(mallory)

    assert delete_account(mallory_client).status_code == 400
    assert delete_account(mallory_client, "mallorys-own-passphrase").status_code == 204

    assert get_user_model().objects.get(pk=alice.pk).is_active
    assert mallory_client.get("/api/user/me/").status_code == 401


def test_anonymous_cannot_delete_an_account(anon_client, alice):
    assert delete_account(anon_client).status_code == 401
    assert get_user_model().objects.get(pk=alice.pk).is_active


def test_threads_with_other_people_survive_too(alice, bob):
    carol = UserFactory(username="carol")
    ThreadFactory(participants=[alice, carol])

    delete_account(client_for(alice))

    assert client_for(carol).get("/api/threads/").data["count"] == 1
    assert client_for(bob).get("/api/threads/").data["count"] == 0


def test_an_account_whose_placeholder_name_is_taken_still_deletes(alice):
    """Names starting `deleted-` could be registered before they were reserved, and the
    admin's forms allow them: alice's placeholder may belong to someone else."""
    squatter = UserFactory(username=f"Deleted-{alice.pk}")

    response = delete_account(client_for(alice))

    assert response.status_code == 204
    alice.refresh_from_db()
    assert not alice.is_active
    assert alice.username.startswith(f"deleted-{alice.pk}-")
    squatter.refresh_from_db()
    assert squatter.username == f"Deleted-{alice.pk}"
