"""The production entry point (chat_project/asgi.py) answers HTTP as the API does: the
same guards and limits as under WSGI, through the ASGI server `make serve` runs."""

import json

import pytest
from asgiref.testing import ApplicationCommunicator

from chat_project.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def request(
    method: str, path: str, *, headers=(), body: bytes = b"", chunks=None
) -> tuple[int, dict]:
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
    pieces = chunks if chunks is not None else [body]
    for index, piece in enumerate(pieces):
        more = index < len(pieces) - 1
        await communicator.send_input({"type": "http.request", "body": piece, "more_body": more})
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


async def test_a_body_sent_in_chunks_without_a_length_is_read():
    payload = json.dumps({"username": "chunky", "password": "correct-horse-battery"}).encode()

    status, body = await request(
        "POST",
        "/api/user/register/",
        headers=[(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        chunks=[payload[:10], payload[10:30], payload[30:]],
    )

    assert (status, body["username"]) == (201, "chunky")


async def test_a_chunked_body_over_the_limit_is_413():
    status, body = await request(
        "POST",
        "/api/user/register/",
        headers=[(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        chunks=[b"x" * 40_000, b"x" * 40_000],
    )

    assert (status, body["code"]) == (413, "request_too_large")
