"""The production entry point (chat_project/asgi.py) answers HTTP as the API does: the
same guards and limits as under WSGI, through the ASGI server `make serve` runs."""

import json

import pytest
from asgiref.testing import ApplicationCommunicator

from chat_project.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def request(method: str, path: str, *, headers=(), body: bytes = b"") -> tuple[int, dict]:
    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    start = await communicator.receive_output(timeout=5)
    content = b""
    while True:
        message = await communicator.receive_output(timeout=5)
        content += message.get("body", b"")
        if not message.get("more_body"):
            break
    return start["status"], json.loads(content)


async def test_the_api_answers_through_the_asgi_application():
    status, body = await request("GET", "/api/threads/")

    assert (status, body["code"]) == (401, "not_authenticated")


async def test_a_non_text_charset_is_415():
    status, body = await request(
        "GET", "/api/users/?search=a", headers=[(b"content-type", b"text/plain; charset=zlib")]
    )

    assert (status, body["code"]) == (415, "unsupported_media_type")


async def test_a_body_over_the_limit_is_413_unread():
    status, body = await request(
        "POST",
        "/api/user/register/",
        headers=[(b"content-type", b"application/json"), (b"content-length", b"10000000")],
    )

    assert (status, body["code"]) == (413, "request_too_large")


async def test_malformed_json_is_400():
    payload = b'{"username": '
    status, body = await request(
        "POST",
        "/api/user/register/",
        headers=[
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ],
        body=payload,
    )

    assert (status, body["code"]) == (400, "parse_error")
