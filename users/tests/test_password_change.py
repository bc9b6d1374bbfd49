"""Changing one's password: the current one proves it is the owner, the new one must be
strong, and every other session of the account ends."""

import pytest
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from users.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-passphrase-7"


def log_in(client, username="alice", password=DEFAULT_PASSWORD) -> dict:
    response = client.post("/api/token/", {"username": username, "password": password})
    assert response.status_code == 200
    return response.data


def change(client, pair, current=DEFAULT_PASSWORD, new=NEW_PASSWORD):
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    return client.post("/api/user/password/", {"current_password": current, "new_password": new})


def test_alice_changes_her_password_and_gets_a_fresh_token_pair(anon_client, alice):
    response = change(anon_client, log_in(anon_client))

    assert response.status_code == 200
    assert set(response.data) == {"access", "refresh"}
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.data['access']}")
    assert anon_client.get("/api/user/me/").status_code == 200
    refreshed = anon_client.post("/api/token/refresh/", {"refresh": response.data["refresh"]})
    assert refreshed.status_code == 200


def test_the_new_password_logs_in_and_the_old_one_no_longer(anon_client, alice):
    change(anon_client, log_in(anon_client))
    anon_client.credentials()

    assert log_in(anon_client, password=NEW_PASSWORD)
    old = anon_client.post("/api/token/", {"username": "alice", "password": DEFAULT_PASSWORD})
    assert old.status_code == 401


def test_every_other_session_ends(anon_client, alice):
    phone = log_in(anon_client)
    laptop = log_in(anon_client)

    change(anon_client, laptop)

    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {phone['access']}")
    assert anon_client.get("/api/user/me/").status_code == 401
    anon_client.credentials()
    for old in (phone, laptop):
        assert (
            anon_client.post("/api/token/refresh/", {"refresh": old["refresh"]}).status_code == 401
        )
        assert anon_client.post("/token/refresh/", {"refresh": old["refresh"]}).status_code == 401


def test_the_old_refresh_tokens_are_blacklisted(anon_client, alice):
    """Revoked outright, not only by the password fingerprint they carry."""
    old = [log_in(anon_client) for _ in range(2)]

    fresh = change(anon_client, old[0]).data

    live = OutstandingToken.objects.filter(user=alice, blacklistedtoken__isnull=True)
    assert [token.token for token in live] == [fresh["refresh"]]


def test_a_wrong_current_password_is_a_400_on_that_field(anon_client, alice):
    pair = log_in(anon_client)

    response = change(anon_client, pair, current="not-my-password")

    assert response.status_code == 400
    assert set(response.data) == {"current_password"}
    anon_client.credentials()
    assert log_in(anon_client)  # unchanged
    assert anon_client.post("/api/token/refresh/", {"refresh": pair["refresh"]}).status_code == 200


@pytest.mark.parametrize("new", ["short", "12345678901", "password123", "alice1234"])
def test_a_weak_new_password_is_refused_with_the_validators_reasons(anon_client, alice, new):
    response = change(anon_client, log_in(anon_client), new=new)

    assert response.status_code == 400
    assert set(response.data) == {"new_password"}
    assert response.data["new_password"]


def test_both_fields_are_required(alice_client):
    response = alice_client.post("/api/user/password/", {})

    assert response.status_code == 400
    assert set(response.data) == {"current_password", "new_password"}


def test_anonymous_cannot_change_a_password(anon_client, alice):
    response = anon_client.post(
        "/api/user/password/",
        {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
    )

    assert response.status_code == 401


def test_changing_the_password_only_changes_ones_own(anon_client, alice, mallory):
    """Mallory knows alice's password but only has her own token: nothing of alice's moves."""
    response = change(anon_client, log_in(anon_client, "mallory"), current=DEFAULT_PASSWORD)

    assert response.status_code == 200
    anon_client.credentials()
    assert log_in(anon_client, "alice")  # alice's password is as it was
    assert log_in(anon_client, "mallory", NEW_PASSWORD)


def test_password_changes_are_throttled_like_logins(settings, alice_client):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth": "2/minute"},
    }
    body = {"current_password": "guess", "new_password": NEW_PASSWORD}

    answers = [alice_client.post("/api/user/password/", body).status_code for _ in range(3)]

    assert answers == [400, 400, 429]
