"""Login and refresh, at the standard paths and at the original README's `/token/refresh/`."""

import pytest

from users.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

CREDENTIALS = {"username": "alice", "password": DEFAULT_PASSWORD}


@pytest.mark.parametrize("path", ["/api/token/", "/api/token", "/token/refresh/", "/token/refresh"])
def test_login_returns_a_token_pair(anon_client, alice, path):
    response = anon_client.post(path, CREDENTIALS, format="json")

    assert response.status_code == 200
    assert set(response.data) == {"access", "refresh"}


@pytest.mark.parametrize("path", ["/api/token/", "/token/refresh/"])
def test_login_with_wrong_password_is_401(anon_client, alice, path):
    response = anon_client.post(
        path, {"username": "alice", "password": "wrong-password"}, format="json"
    )

    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/api/token/", "/token/refresh/"])
def test_login_of_unknown_user_is_401(anon_client, path):
    response = anon_client.post(path, {"username": "nobody", "password": "x"}, format="json")

    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/api/token/refresh/", "/token/refresh/"])
def test_refresh_token_gets_a_new_access_token(anon_client, alice, path):
    pair = anon_client.post("/api/token/", CREDENTIALS, format="json").data

    response = anon_client.post(path, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 200
    assert "access" in response.data
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.data['access']}")
    assert anon_client.get("/api/threads/").status_code == 200


@pytest.mark.parametrize("path", ["/api/token/refresh/", "/token/refresh/"])
def test_bad_refresh_token_is_401(anon_client, path):
    response = anon_client.post(path, {"refresh": "not-a-token"}, format="json")

    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/api/token/refresh/", "/token/refresh/"])
def test_access_token_is_not_a_refresh_token(anon_client, alice, path):
    pair = anon_client.post("/api/token/", CREDENTIALS, format="json").data

    response = anon_client.post(path, {"refresh": pair["access"]}, format="json")

    assert response.status_code == 401


@pytest.mark.parametrize(
    "body",
    [{}, {"username": "alice"}, {"password": "x"}, ["alice"], {"username": ["a"], "password": 1}],
)
def test_legacy_login_with_incomplete_body_is_400(anon_client, alice, body):
    response = anon_client.post("/token/refresh/", body, format="json")

    assert response.status_code == 400


def test_legacy_login_malformed_json_is_400(anon_client):
    response = anon_client.post("/token/refresh/", "{", content_type="application/json")

    assert response.status_code == 400


@pytest.mark.parametrize("password", ["  spaces-around-77x  ", "\ttabbed-password-9\t"])
def test_a_password_is_compared_exactly_as_typed(anon_client, password):
    anon_client.post("/api/user/register/", {"username": "spacey", "password": password})

    exact = anon_client.post("/api/token/", {"username": "spacey", "password": password})
    trimmed = anon_client.post("/api/token/", {"username": "spacey", "password": password.strip()})

    assert exact.status_code == 200
    assert trimmed.status_code == 401


def test_refreshing_the_token_of_a_deleted_user_is_401(anon_client, alice):
    pair = anon_client.post("/api/token/", CREDENTIALS).data
    alice.delete()

    for path in ("/api/token/refresh/", "/token/refresh/"):
        response = anon_client.post(path, {"refresh": pair["refresh"]})
        assert response.status_code == 401


def test_changing_the_password_ends_existing_sessions(anon_client, alice):
    pair = anon_client.post("/api/token/", CREDENTIALS).data
    alice.set_password("a-brand-new-password-42")
    alice.save()

    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert anon_client.get("/api/threads/").status_code == 401
    anon_client.credentials()
    assert anon_client.post("/api/token/refresh/", {"refresh": pair["refresh"]}).status_code == 401
