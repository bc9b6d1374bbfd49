"""The WebSocket's AsyncAPI document: served to anyone, committed as the code generates it,
and true to the sockets: every event they send, live or caught up, is one the document
lists and matches its payload field for field (no field missing, none undocumented)."""

import io
from pathlib import Path

import jsonschema
import pytest
import yaml
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from chat_project.asgi import application
from conftest import client_for
from threads import events
from threads.asyncapi import document_yaml
from threads.models import Message
from threads.services import message_purge
from threads.tests.test_realtime import QUIET, access_token, call
from users.tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "asyncapi.yaml"
THUMBS_UP = "\N{THUMBS UP SIGN}"


def committed() -> dict:
    return yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))


def resolve(document: dict, ref: str) -> dict:
    node = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return resolve(document, node["$ref"]) if "$ref" in node else node


def messages_by_action(document: dict, action: str) -> dict[str, dict]:
    """The messages of the `action` ("send": server to client) operations, by name."""
    found = {}
    for operation in document["operations"].values():
        if operation["action"] == action:
            for ref in operation["messages"]:
                message = resolve(document, ref["$ref"])
                found[message["name"]] = message
    return found


def strict(schema):
    """`schema` with no undocumented field allowed in any object it describes."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: strict(value) for key, value in schema.items()}
    if "properties" in schema:
        schema["properties"] = {name: strict(value) for name, value in schema["properties"].items()}
        schema.setdefault("additionalProperties", False)
    return schema


def payload_validator(document: dict, message: dict) -> jsonschema.Draft7Validator:
    """Checks a payload against `message`'s, strictly; its `$ref`s resolve in the document."""
    root = {**strict(message["payload"]), "components": strict(document["components"])}
    return jsonschema.Draft7Validator(root)


def mismatches(document: dict, event: dict, *, action: str = "send") -> list[str]:
    """Why `event` is not one the document describes (nothing if it is)."""
    message = messages_by_action(document, action).get(event.get("type"))
    if message is None:
        return [f"undocumented event type {event.get('type')!r}"]
    return [error.message for error in payload_validator(document, message).iter_errors(event)]


# --- Served and committed ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_document_is_served_to_anyone_as_yaml(anon_client):
    response = anon_client.get("/api/asyncapi.yaml")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml; charset=utf-8"
    assert yaml.safe_load(response.content)["asyncapi"] == "3.0.0"


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "delete", "options"])
def test_the_document_is_read_only(method):
    # As a browser's client: with CSRF checks, which must not answer first.
    response = getattr(Client(enforce_csrf_checks=True), method)("/api/asyncapi.yaml")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.django_db
def test_the_served_document_is_the_committed_one(anon_client):
    served = anon_client.get("/api/asyncapi.yaml").content.decode()

    assert served == COMMITTED.read_text(encoding="utf-8"), (
        "docs/asyncapi.yaml is out of date: run `make schema` and commit it"
    )


@pytest.mark.django_db
def test_the_committed_document_is_what_the_code_generates():
    assert document_yaml() == COMMITTED.read_text(encoding="utf-8"), (
        "docs/asyncapi.yaml is out of date: run `make schema` and commit it"
    )


def test_every_event_the_server_sends_is_documented_and_the_one_a_client_sends():
    document = committed()

    assert set(messages_by_action(document, "send")) == {*events.CHANGES, events.TYPING, "error"}
    assert set(messages_by_action(document, "receive")) == {events.TYPING}


def test_the_events_that_are_changes_carry_a_cursor_and_the_others_do_not():
    sent = messages_by_action(committed(), "send")

    for name, message in sent.items():
        has_cursor = "cursor" in message["payload"]["required"]
        assert has_cursor == (name in events.CHANGES), name


def test_the_examples_match_their_payloads():
    document = committed()
    messages = [*document["components"]["messages"].values()]

    for message in messages:
        assert message["examples"], message["name"]
        for example in message["examples"]:
            errors = list(payload_validator(document, message).iter_errors(example["payload"]))
            assert errors == [], (message["name"], example["name"])


def test_the_payload_check_refuses_an_undocumented_or_missing_field():
    document = committed()
    typing = {"type": "typing", "thread": 2, "user": 1}

    assert mismatches(document, typing) == []
    assert mismatches(document, {**typing, "cursor": 3}) != []
    assert mismatches(document, {"type": "typing", "thread": 2}) != []
    assert mismatches(document, {**typing, "type": "thread.renamed"}) != []


def test_the_rest_objects_are_the_openapi_documents():
    """A message in an event is the REST API's Message: the same fields, the same needs."""
    openapi = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text(encoding="utf-8"))
    asyncapi = committed()

    for name in ("Message", "Thread", "Reaction", "User", "Attachment", "ReactionSummary"):
        rest = openapi["components"]["schemas"][name]
        documented = asyncapi["components"]["schemas"][name]
        assert documented["properties"].keys() == rest["properties"].keys(), name
        assert documented["required"] == rest["required"], name


# --- What the sockets send -----------------------------------------------------------------


async def drain(socket) -> list[dict]:
    """Everything the socket sends until it falls quiet."""
    received = []
    while not await socket.receive_nothing(timeout=QUIET):
        received.append(await socket.receive_json_from(timeout=1))
    return received


async def socket_of(user, path: str = "/ws/", *, subprotocol: bool = False):
    token = access_token(user)
    if subprotocol:
        socket = WebsocketCommunicator(application, path, subprotocols=["bearer", token])
    else:
        joiner = "&" if "?" in path else "?"
        socket = WebsocketCommunicator(application, f"{path}{joiner}token={token}")
    connected, _ = await socket.connect()
    assert connected
    return socket


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_every_event_the_sockets_send_is_as_documented(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    document = committed()
    alice, bob = [
        await database_sync_to_async(UserFactory)(username=name) for name in ("alice", "bob")
    ]
    alices = await socket_of(alice, subprotocol=True)
    bobs = await socket_of(bob)
    try:
        # A thread, a message with a file, an edit, a reaction and its removal, a read, a
        # deletion by the sender and one by a moderator, typing, refusals, the thread's end.
        thread = (await call(alice, "post", "/api/threads/", {"participants": [bob.pk]})).data
        messages = f"/api/threads/{thread['id']}/messages"

        def upload():
            file = io.BytesIO(b"%PDF-1.4 minutes of the meeting")
            file.name = "minutes.pdf"
            return client_for(alice).post(
                f"/api/threads/{thread['id']}/attachments", {"file": file}, format="multipart"
            )

        attachment = (await database_sync_to_async(upload)()).data
        posted = await call(
            alice, "post", messages, {"text": "Minutes", "attachments": [attachment["id"]]}
        )
        message = f"{messages}/{posted.data['id']}/"
        await call(alice, "patch", message, {"text": "The minutes"})
        await call(bob, "put", f"{message}reactions/{THUMBS_UP}")
        await call(bob, "delete", f"{message}reactions/{THUMBS_UP}")
        await call(bob, "patch", f"/api/threads/{thread['id']}/mark_read")
        await call(alice, "delete", message)
        purged = await call(alice, "post", messages, {"text": "Oops"})
        await database_sync_to_async(
            lambda: message_purge(message=Message.objects.get(pk=purged.data["id"]))
        )()
        await alices.send_json_to({"type": "typing", "thread": thread["id"]})
        await alices.send_to(text_data="not json")
        await alices.send_json_to({"type": "typing", "thread": thread["id"] + 1000})
        heard_live = await drain(alices) + await drain(bobs)
        await call(alice, "delete", f"/api/threads/{thread['id']}/")
        heard_live += await drain(alices) + await drain(bobs)
        # Caught up from the log: the messages are gone with their thread (data null).
        caught_up = await drain(await socket_of(bob, "/ws/?since=0"))

        for event in heard_live + caught_up:
            assert mismatches(document, event) == [], event
        every_event = set(messages_by_action(document, "send"))
        assert {event["type"] for event in heard_live} == every_event
        assert {event["type"] for event in caught_up} == set(events.CHANGES)
        assert {event["code"] for event in heard_live if event["type"] == "error"} == {
            "parse_error",
            "not_found",
        }
    finally:
        await get_channel_layer().flush()
