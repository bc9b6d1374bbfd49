"""Limits every client meets: rate limits, body size, page size, and the error shape."""

import pytest
from django.test import override_settings

from threads.models import Message
from users.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def rates(**scopes):
    from django.conf import settings

    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], **scopes}
    return override_settings(REST_FRAMEWORK=rest)


def test_login_attempts_are_rate_limited_per_client_ip(anon_client, alice):
    with rates(auth="3/minute"):
        statuses = [
            anon_client.post("/api/token/", {"username": "alice", "password": "wrong"}).status_code
            for _ in range(4)
        ]
        right_password = anon_client.post(
            "/api/token/", {"username": "alice", "password": DEFAULT_PASSWORD}
        )
        from_elsewhere = anon_client.post(
            "/api/token/",
            {"username": "alice", "password": DEFAULT_PASSWORD},
            REMOTE_ADDR="10.1.2.3",
        )

    assert statuses == [401, 401, 401, 429]
    assert right_password.status_code == 429
    assert int(right_password["Retry-After"]) > 0
    assert right_password.data["code"] == "throttled"
    assert from_elsewhere.status_code == 200


def test_a_forged_forwarded_for_header_does_not_escape_the_limit(anon_client, alice):
    with rates(auth="1/minute"):
        anon_client.post("/api/token/", {"username": "alice", "password": "x"})
        response = anon_client.post(
            "/api/token/", {"username": "alice", "password": "x"}, HTTP_X_FORWARDED_FOR="1.2.3.4"
        )

    assert response.status_code == 429


@pytest.mark.parametrize("path", ["/api/user/register/", "/token/refresh/", "/api/user/logout/"])
def test_registration_and_other_auth_paths_share_the_limit(anon_client, path):
    with rates(auth="2/minute"):
        statuses = [anon_client.post(path, {}).status_code for _ in range(3)]

    assert statuses[-1] == 429


def test_message_posting_is_rate_limited_per_user(alice_client, bob_client, thread):
    url = f"/api/threads/{thread.pk}/messages"
    with rates(message_post="2/minute"):
        alice_statuses = [alice_client.post(url, {"text": "hi"}).status_code for _ in range(3)]
        reading = alice_client.get(url)
        bob_posting = bob_client.post(url, {"text": "hi"})

    assert alice_statuses == [201, 201, 429]
    assert reading.status_code == 200
    assert bob_posting.status_code == 201
    assert Message.objects.count() == 3


def test_a_body_over_64_kib_is_refused_with_413(alice_client, thread):
    body = '{"text": "' + "x" * (64 * 1024) + '"}'

    response = alice_client.post(
        f"/api/threads/{thread.pk}/messages", body, content_type="application/json"
    )

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert not Message.objects.exists()


def test_the_longest_message_fits_in_the_body_limit(alice_client, thread):
    text = "😀" * 5000  # 4-byte characters, escaped by the JSON encoder to 12 bytes each

    response = alice_client.post(f"/api/threads/{thread.pk}/messages", {"text": text})

    assert response.status_code == 201
    assert response.data["text"] == text


@pytest.mark.parametrize(
    ("path", "method", "status", "code"),
    [
        ("/api/threads/987/", "get", 404, "not_found"),
        ("/api/threads/", "put", 405, "method_not_allowed"),
        ("/api/no-such-endpoint/", "get", 404, "not_found"),
        ("/nowhere", "get", 404, "not_found"),
    ],
)
def test_errors_have_detail_and_code(alice_client, path, method, status, code):
    response = getattr(alice_client, method)(path)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": response.json()["detail"], "code": code}


def test_unauthenticated_error_has_a_code(anon_client):
    response = anon_client.get("/api/threads/")

    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "code": "not_authenticated",
    }


def test_malformed_json_error_has_a_code(alice_client):
    response = alice_client.post("/api/threads/", "{", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_wrong_content_type_is_415(alice_client):
    response = alice_client.post("/api/threads/", "participants=2", content_type="text/plain")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_validation_errors_are_a_field_dict(alice_client):
    response = alice_client.post("/api/threads/", {"participants": "x"})

    assert response.status_code == 400
    assert list(response.json()) == ["participants"]


@pytest.mark.parametrize("path", ["/api/user/register/", "/token/refresh/", "/api/threads/"])
def test_deeply_nested_json_is_400_not_500(alice_client, path):
    body = "[" * 5000 + "]" * 5000

    response = alice_client.post(path, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_deeply_nested_json_inside_a_field_is_400(alice_client, thread):
    body = '{"text": ' + "[" * 5000 + "]" * 5000 + "}"

    response = alice_client.post(
        f"/api/threads/{thread.pk}/messages", body, content_type="application/json"
    )

    assert response.status_code == 400
