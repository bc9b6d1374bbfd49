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


def multipart(content: bytes, boundary: str = "chatboundary") -> tuple[bytes, list]:
    """A multipart/form-data body with `content` as the file `file`, and its headers."""
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, [(b"content-type", f"multipart/form-data; boundary={boundary}".encode())]


@pytest.fixture
def uploader(settings, tmp_path):
    """Alice's bearer header and her thread's upload path, files kept in a temporary folder."""
    from rest_framework_simplejwt.tokens import AccessToken

    from threads.tests.factories import ThreadFactory
    from users.tests.factories import UserFactory

    settings.MEDIA_ROOT = tmp_path
    alice = UserFactory()
    thread = ThreadFactory(participants=[alice, UserFactory()])
    token = f"Bearer {AccessToken.for_user(alice)}".encode()
    return (b"authorization", token), f"/api/threads/{thread.pk}/attachments"


async def test_an_upload_larger_than_memory_is_spooled_and_stored_whole(uploader):
    from chat_project.asgi import UPLOAD_MEMORY_BYTES

    authorization, path = uploader
    content = bytes(range(256)) * (UPLOAD_MEMORY_BYTES // 256 + 1000)
    body, headers = multipart(content)

    status, answer = await request(
        "POST",
        path,
        headers=[authorization, *headers, (b"transfer-encoding", b"chunked")],
        chunks=[body[i : i + 100_000] for i in range(0, len(body), 100_000)],
    )

    assert status == 201, answer
    assert answer["size"] == len(content)


async def test_an_upload_streaming_past_its_limit_is_413_before_the_rest_is_read(
    uploader, settings
):
    settings.ATTACHMENT_MAX_BYTES = 100_000
    authorization, path = uploader
    body, headers = multipart(b"x" * 400_000)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), authorization, *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    communicator = ApplicationCommunicator(application, scope)
    chunks = [body[i : i + 50_000] for i in range(0, len(body), 50_000)]
    for piece in chunks:
        await communicator.send_input({"type": "http.request", "body": piece, "more_body": True})

    start = await communicator.receive_output(timeout=5)
    answer = await communicator.receive_output(timeout=5)

    assert start["status"] == 413
    assert json.loads(answer["body"])["code"] == "file_too_large"
    # The limit and its envelope (164 KiB) are passed on the fourth chunk: the rest is
    # still waiting, unread.
    assert communicator.input_queue.qsize() == len(chunks) - 4


async def test_the_upload_route_takes_a_file_the_size_of_its_limit(uploader, settings):
    settings.ATTACHMENT_MAX_BYTES = 200_000
    authorization, path = uploader
    body, headers = multipart(b"x" * 200_000)
    length = (b"content-length", str(len(body)).encode())

    status, answer = await request(
        "POST", path, headers=[authorization, *headers, length], body=body
    )
    too_large, refusal = await request(
        "POST", path, headers=[authorization, *headers, (b"content-length", b"10000000")]
    )

    assert (status, answer["size"]) == (201, 200_000)
    assert (too_large, refusal["code"]) == (413, "file_too_large")
