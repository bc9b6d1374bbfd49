"""Following one request through the log: every response carries an X-Request-ID, the
client's own when it is a sane token, and every line logged while answering it carries
the same id (and the user's id once authenticated), never another request's."""

import asyncio
import logging
import re
from unittest import mock

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.testing import WebsocketCommunicator
from django.db import OperationalError
from rest_framework_simplejwt.tokens import AccessToken

from chat_project import request_context
from chat_project.asgi import application
from chat_project.logs import FailureLog
from chat_project.tests.test_outages import REFUSED, cannot_connect
from threads import consumers, events, views

GENERATED = re.compile(r"[0-9a-f]{32}")


def lines_of(json_log, response) -> list[dict]:
    """The lines logged while answering `response`: each must carry its id."""
    lines = [line for line in json_log() if line["request_id"] == response["X-Request-ID"]]
    assert lines == json_log()
    return lines


@pytest.mark.django_db
@pytest.mark.parametrize(
    "incoming",
    [
        "5f0c2e8a-2b6e-4c1e-9a57-3c1d0f3e9b21",  # a UUID, as proxies make them
        "req_01HZX3K4Q9",
        "Root=1-5759e988-bd862e3fe1be46a994272793",
        "a" * 128,
    ],
)
def test_a_sane_incoming_request_id_is_answered_and_logged(anon_client, json_log, incoming):
    response = anon_client.get("/no/such/page", HTTP_X_REQUEST_ID=incoming)

    assert response.status_code == 404
    assert response["X-Request-ID"] == incoming
    [line] = lines_of(json_log, response)
    assert line["message"] == "Not Found: /no/such/page"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "incoming",
    [
        "a" * 129,
        "forged\n2026-01-01 ERROR django.request fake line",
        "caf\u00e9",
        "two words",
        "<script>",
        "",
    ],
    ids=["too-long", "newline", "non-ascii", "space", "markup", "empty"],
)
def test_an_insane_incoming_request_id_is_replaced(anon_client, json_log, incoming):
    response = anon_client.get("/no/such/page", HTTP_X_REQUEST_ID=incoming)

    assert GENERATED.fullmatch(response["X-Request-ID"])
    [line] = lines_of(json_log, response)
    assert line["message"] == "Not Found: /no/such/page"


@pytest.mark.django_db
def test_without_an_incoming_id_each_request_gets_a_new_one(anon_client):
    first = anon_client.get("/healthz")
    second = anon_client.get("/healthz")

    assert GENERATED.fullmatch(first["X-Request-ID"])
    assert GENERATED.fullmatch(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "status", "extra"),
    [
        ("get", "/healthz", 200, {}),
        ("get", "/readyz/", 200, {}),
        ("post", "/healthz", 405, {}),
        ("get", "/api/threads/", 401, {}),
        ("get", "/api/threads/", 400, {"HTTP_HOST": "attacker.example"}),
        ("post", "/api/token/", 413, {"CONTENT_LENGTH": "10000000"}),
    ],
)
def test_every_answer_carries_the_request_id(anon_client, method, path, status, extra):
    response = getattr(anon_client, method)(path, HTTP_X_REQUEST_ID="probe-1", **extra)

    assert response.status_code == status
    assert response["X-Request-ID"] == "probe-1"


@pytest.mark.django_db
def test_a_database_outage_answer_carries_the_request_id(alice_client, json_log):
    with cannot_connect(REFUSED):
        response = alice_client.get("/api/threads/", HTTP_X_REQUEST_ID="outage-1")

    assert response.status_code == 503
    assert response["X-Request-ID"] == "outage-1"
    [line] = lines_of(json_log, response)
    assert line["level"] == "WARNING"


@pytest.mark.django_db
def test_an_unexpected_error_answer_carries_the_request_id(alice_client, json_log, monkeypatch):
    monkeypatch.setattr(views, "thread_list_for", mock.Mock(side_effect=RuntimeError("bug")))
    alice_client.raise_request_exception = False

    response = alice_client.get("/api/threads/", HTTP_X_REQUEST_ID="bug-1")

    assert response.status_code == 500
    assert response["X-Request-ID"] == "bug-1"
    [line] = lines_of(json_log, response)
    assert "RuntimeError: bug" in line["exc_info"]


@pytest.mark.django_db
def test_ids_and_users_do_not_leak_into_the_next_request(alice, alice_client, json_log):
    # The test client serves every request on this one thread, as a WSGI server's thread
    # serves one after another.
    alices = alice_client.get("/api/threads/999999/")
    alice_client.credentials()  # the same client, signed out
    anonymous = alice_client.get("/api/threads/999999/")
    logging.getLogger("chat_project").warning("between requests")

    first, second, after = json_log()
    assert (first["request_id"], first["user_id"]) == (alices["X-Request-ID"], alice.pk)
    assert (second["request_id"], second["user_id"]) == (anonymous["X-Request-ID"], None)
    assert alices["X-Request-ID"] != anonymous["X-Request-ID"]
    assert (after["request_id"], after["user_id"]) == (None, None)


# Through the ASGI entry (`make serve`): answers given before Django, and sockets.


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/healthz", [], 200),
        ("POST", "/api/token/", [(b"content-length", b"10000000")], 413),
        ("GET", "/api/threads/", [], 401),
    ],
)
async def test_answers_of_the_asgi_entry_carry_the_request_id(method, path, headers, status):
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"x-request-id", b"edge-1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})

    start = await communicator.receive_output(timeout=5)

    assert start["status"] == status
    assert [value for name, value in start["headers"] if name == b"x-request-id"] == [b"edge-1"]
    await communicator.wait(timeout=5)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_sockets_lines_carry_its_request_id_and_user(alice, json_log, monkeypatch):
    def database_down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(consumers, "changes_for", database_down)
    monkeypatch.setattr(
        consumers, "failed_catch_ups", FailureLog(consumers.logger, "Database down", "sockets")
    )
    socket = WebsocketCommunicator(
        application,
        "/ws/",
        headers=[(b"x-request-id", b"socket-1")],
        subprotocols=["bearer", str(AccessToken.for_user(alice))],
    )

    await socket.send_input({"type": "websocket.connect"})
    accepted = await socket.receive_output(timeout=1)
    closed = await socket.receive_output(timeout=1)

    assert (b"x-request-id", b"socket-1") in accepted["headers"]
    assert closed["code"] == consumers.SERVICE_RESTART
    [line] = json_log()
    assert line["message"].startswith("Database down: 1 sockets")
    assert (line["request_id"], line["user_id"]) == ("socket-1", alice.pk)
    await socket.wait()


@pytest.mark.asyncio
async def test_what_the_event_sender_logs_is_no_requests(json_log, monkeypatch):
    """The server loop's sender outlives the request that first handed it events, and
    sends every later request's too: its lines carry no request's id."""

    class UnreachableLayer:
        async def group_send_many(self, messages):
            raise ConnectionRefusedError("Redis is down")

    monkeypatch.setattr(events, "get_channel_layer", UnreachableLayer)
    monkeypatch.setattr(events, "dropped_events", FailureLog(events.logger, "Down", "events"))
    monkeypatch.setattr(events, "_server_loop", None)
    events.serve_on(asyncio.get_running_loop())

    def publish_while_serving_a_request() -> None:
        request_context.start("request-a")
        events.deliver([(1, {"type": events.TYPING, "thread": 1, "user": 2})])

    await asyncio.to_thread(publish_while_serving_a_request)
    while not json_log():
        await asyncio.sleep(0.01)

    [line] = json_log()
    assert line["message"].startswith("Down: 1 events")
    assert (line["request_id"], line["user_id"]) == (None, None)
