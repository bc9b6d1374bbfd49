"""Sessions: refresh tokens rotate on use, and logging out revokes the refresh token."""

import pytest

from conftest import WORKERS, run_concurrently
from users.tests.factories import DEFAULT_PASSWORD

CREDENTIALS_BODY = {"username": "alice", "password": DEFAULT_PASSWORD}

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(anon_client, alice):
    response = anon_client.post("/api/token/", {"username": "alice", "password": DEFAULT_PASSWORD})
    return response.data


def test_logout_revokes_the_refresh_token(anon_client, pair):
    response = anon_client.post("/api/user/logout/", {"refresh": pair["refresh"]})

    assert response.status_code == 205
    refreshed = anon_client.post("/api/token/refresh/", {"refresh": pair["refresh"]})
    assert refreshed.status_code == 401


def test_logout_twice_is_401_the_second_time(anon_client, pair):
    anon_client.post("/api/user/logout/", {"refresh": pair["refresh"]})

    again = anon_client.post("/api/user/logout/", {"refresh": pair["refresh"]})

    assert again.status_code == 401


def test_logout_leaves_other_sessions_alone(anon_client, alice, pair):
    other = anon_client.post(
        "/api/token/", {"username": "alice", "password": DEFAULT_PASSWORD}
    ).data

    anon_client.post("/api/user/logout/", {"refresh": pair["refresh"]})

    assert anon_client.post("/api/token/refresh/", {"refresh": other["refresh"]}).status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [({}, 400), ({"refresh": ""}, 400), ({"refresh": "garbage"}, 401), ({"refresh": 5}, 401)],
)
def test_logout_with_a_bad_body(anon_client, body, status):
    assert anon_client.post("/api/user/logout/", body).status_code == status


def test_an_access_token_cannot_be_logged_out_as_a_refresh_token(anon_client, pair):
    response = anon_client.post("/api/user/logout/", {"refresh": pair["access"]})

    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/api/token/refresh/", "/token/refresh/"])
def test_refresh_rotates_and_the_old_refresh_token_stops_working(anon_client, pair, path):
    response = anon_client.post(path, {"refresh": pair["refresh"]})

    assert response.status_code == 200
    assert response.data["refresh"] != pair["refresh"]
    assert anon_client.post(path, {"refresh": pair["refresh"]}).status_code == 401
    assert anon_client.post(path, {"refresh": response.data["refresh"]}).status_code == 200


def test_logout_still_revokes_the_token_of_a_deleted_user(anon_client, alice, pair):
    alice.delete()

    response = anon_client.post("/api/user/logout/", {"refresh": pair["refresh"]})

    assert response.status_code == 205


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/api/token/refresh/", "/token/refresh/"])
def test_a_refresh_token_works_once_even_when_sent_concurrently(alice, path):
    from rest_framework.test import APIClient

    refresh = APIClient().post("/api/token/", CREDENTIALS_BODY).data["refresh"]

    responses = run_concurrently([lambda: APIClient().post(path, {"refresh": refresh})] * WORKERS)

    assert sorted(r.status_code for r in responses) == [200] + [401] * (WORKERS - 1)


@pytest.mark.django_db(transaction=True)
def test_a_logout_racing_a_refresh_leaves_no_session_behind(alice):
    from rest_framework.test import APIClient

    refresh = APIClient().post("/api/token/", CREDENTIALS_BODY).data["refresh"]

    logout, refreshed = run_concurrently(
        [
            lambda: APIClient().post("/api/user/logout/", {"refresh": refresh}),
            lambda: APIClient().post("/api/token/refresh/", {"refresh": refresh}),
        ]
    )

    # Exactly one of them used the token: either the logout (and the refresh failed) or
    # the refresh (and the logout says the token was already used).
    assert sorted([logout.status_code, refreshed.status_code]) in ([200, 401], [205, 401])
