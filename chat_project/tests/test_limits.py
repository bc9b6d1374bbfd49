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


def test_registration_login_refresh_and_logout_share_one_limit(anon_client):
    paths = ["/api/user/register/", "/token/refresh/", "/api/token/refresh/", "/api/user/logout/"]
    with rates(auth="4/minute"):
        statuses = [anon_client.post(path, {}).status_code for path in paths]
        fifth = anon_client.post("/api/token/", {})

    assert 429 not in statuses
    assert fifth.status_code == 429


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


@pytest.mark.parametrize(
    ("charset", "query"),
    [
        ("zlib", "search=a"),
        ("base64", "search=a"),
        ("rot13", "search=a"),
        ("punycode", "search=a"),
        ("bz2", "search=a"),
        ("idna", "search=a%ff"),  # a text codec that cannot decode with errors="replace"
    ],
)
def test_a_non_text_charset_is_415_before_django_builds_the_request(charset, query):
    from chat_project.wsgi import application

    answered = {}

    def start_response(status, headers):
        answered["status"] = status

    body = application(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/api/users/",
            "QUERY_STRING": query,
            "CONTENT_TYPE": f"text/plain; charset={charset}",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "wsgi.input": None,
            "wsgi.url_scheme": "http",
        },
        start_response,
    )

    assert answered["status"].startswith("415")
    assert b'"code":"unsupported_media_type"' in b"".join(body)


@pytest.mark.parametrize(
    ("content_type", "usable"),
    [
        ("", True),
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("text/plain; charset=latin-1", True),
        ("text/plain; charset=no-such-codec", True),  # Django ignores unknown charsets
        ("text/plain; charset=zlib", False),
        ("text/plain; charset=hex", False),
    ],
)
def test_which_charsets_are_usable(content_type, usable):
    from chat_project.wsgi import usable_charset

    assert usable_charset(content_type, "search=a") is usable


@pytest.mark.parametrize(
    "path",
    [
        "/api/threads/1234567890123456789/",
        "/api/threads/1/messages/99999999999999999999/",
        "/api/users/9223372036854775808/",
        "/api/user/blocks/9223372036854775808/",
    ],
)
@pytest.mark.parametrize("method", ["get", "delete", "patch"])
def test_ids_too_large_for_the_database_are_404(alice_client, path, method):
    response = getattr(alice_client, method)(path, {"text": "x"})

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("path", ["/api/users/", "/api/messages/"])
@pytest.mark.parametrize("search", ["nul\x00byte", "x" * 201])
def test_an_invalid_search_is_400(alice_client, path, search):
    response = alice_client.get(path, {"search": search})

    assert response.status_code == 400
    assert "search" in response.json()


@pytest.mark.parametrize(
    "path", ["/api/user/blocks/", "/api/threads/", "/api/user/register/", "/api/token/"]
)
def test_json_nested_beyond_the_limit_is_400_everywhere(alice_client, path):
    from chat_project.parsers import MAX_DEPTH

    deep = MAX_DEPTH + 1
    body = '{"user": ' + "[" * deep + "]" * deep + "}"

    response = alice_client.post(path, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_json_nested_within_the_limit_is_parsed(alice_client):
    from chat_project.parsers import MAX_DEPTH

    inner = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    response = alice_client.post(
        "/api/user/blocks/", '{"user": ' + inner + "}", content_type="application/json"
    )

    assert response.status_code == 400
    assert "user" in response.json()  # a field error: parsed, then refused by validation


def test_a_text_charset_that_cannot_decode_the_query_string_is_left_to_django():
    from chat_project.wsgi import usable_charset

    # Django decodes such query strings as ISO-8859-1 instead; refusing them would be wrong.
    assert usable_charset("text/plain; charset=utf-16", "a=1") is True
