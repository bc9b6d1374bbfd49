"""The WebSocket's AsyncAPI 3 document: docs/asyncapi.yaml, served at /api/asyncapi.yaml.

Built from the code it describes, so the two cannot drift apart: the event types from
`threads.events`, the close codes from `threads.consumers`, the error codes and texts from
the errors the socket answers with, `since` from the sync endpoint's serializer, and the
objects that events carry (a message, a thread, a reaction) from the OpenAPI document that
drf-spectacular generates, so both documents describe them alike. `manage.py asyncapi`
writes it (`make schema`); `make lint` checks that the committed copy is current and
`make asyncapi-validate` runs the AsyncAPI CLI over it.

The document describes the server, as AsyncAPI 3 has a document describe its application:
its `send` operations are the events a client receives, its `receive` operation the one
message a client sends.
"""

import copy
import functools
from typing import Any

import yaml
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.settings import spectacular_settings

from chat_project.errors import method_not_allowed
from chat_project.exceptions import ChatError
from chat_project.workers import UvicornWorker
from threads import consumers, events
from threads.errors import (
    NotACursor,
    NotAThreadId,
    NotJson,
    ResyncRequired,
    SocketThrottled,
    ThreadNotFound,
    UnknownClientMessage,
)
from threads.serializers import SyncQuerySerializer

CHANNEL = "events"
SCHEMAS = "#/components/schemas/"
# The REST objects that events carry, and with them every object those name.
REST_OBJECTS = ("Message", "Thread", "Reaction")
# What the socket answers a client message or a `since` it cannot take (threads.consumers),
# with an example of the context an error names (`ChatError.context`), if any.
SOCKET_ERRORS: tuple[tuple[type[ChatError], dict], ...] = (
    (NotJson, {}),
    (UnknownClientMessage, {}),
    (NotAThreadId, {}),
    (ThreadNotFound, {"thread": 2}),
    (SocketThrottled, {}),
    (NotACursor, {}),
    (ResyncRequired, {}),
)
MESSAGE_LIMIT_BYTES = UvicornWorker.CONFIG_KWARGS["ws_max_size"]

# A message as the REST API returns it: the examples' `data`.
EXAMPLE_MESSAGE = {
    "id": 10,
    "thread": 2,
    "sender": 1,
    "sender_detail": {"id": 1, "username": "alice"},
    "text": "Are you there?",
    "created": "2026-11-26T09:01:07.410281Z",
    "is_read": False,
    "edited": None,
    "deleted": None,
    "attachments": [],
    "reactions": [],
}
EXAMPLE_THREAD = {
    "id": 2,
    "participants": [1, 2],
    "participants_detail": [{"id": 1, "username": "alice"}, {"id": 2, "username": "bob"}],
    "created": "2026-11-26T09:00:41.102344Z",
    "updated": "2026-11-26T09:00:41.102344Z",
    "last_message": None,
    "unread_count": 0,
}


def close_codes() -> list[tuple[int, str]]:
    """Every code a socket closes with, and what a client does about it."""
    return [
        (1000, "Normal closure (the client closed it)."),
        (
            1006,
            "The connection was lost (no close frame: a network failure, a sleeping laptop): "
            "reconnect with `since`.",
        ),
        (
            1009,
            f"A client message over {MESSAGE_LIMIT_BYTES // 1024} KiB: the client sent too much.",
        ),
        (1011, "The client stopped answering pings."),
        (
            consumers.SERVICE_RESTART,
            "The server lost its channel layer (Redis), or its database while catching up: "
            "reconnect with `since` after a pause of a few seconds.",
        ),
        (
            consumers.BAD_REQUEST,
            "`since` is not a cursor (an `error` event `invalid` comes first). Do not retry as is.",
        ),
        (
            consumers.UNAUTHORIZED,
            "No valid access token, or it expired, or the account was deleted, deactivated "
            "or its password changed: get a fresh access token (or sign in again), then "
            "reconnect.",
        ),
        (
            consumers.RESYNC_REQUIRED,
            "`since` is older than the change log keeps (an `error` event `resync_required` "
            "comes first): load everything again over REST, then connect with the cursor a "
            "sync without `since` answers.",
        ),
    ]


def json_schema(openapi: Any) -> Any:
    """An OpenAPI 3.0 schema (drf-spectacular's) as the JSON Schema that AsyncAPI's default
    schema format is: `nullable` becomes a `null` type, `example` becomes `examples`."""
    if isinstance(openapi, list):
        return [json_schema(item) for item in openapi]
    if not isinstance(openapi, dict):
        return openapi
    schema = {
        key: (
            {name: json_schema(value) for name, value in value.items()}
            if key == "properties"
            else json_schema(value)
        )
        for key, value in openapi.items()
    }
    if "example" in schema:
        schema["examples"] = [schema.pop("example")]
    if schema.pop("nullable", False):
        if "type" in schema:
            schema["type"] = [schema["type"], "null"]
            if "enum" in schema:
                schema["enum"] = [*schema["enum"], None]
        else:  # a reference (`allOf: [$ref]`): this, or null
            outer = {key: schema.pop(key) for key in ("readOnly", "description") if key in schema}
            schema = {**outer, "oneOf": [schema, {"type": "null"}]}
    return schema


def _references(schema: Any) -> set[str]:
    """The component names a schema refers to."""
    if isinstance(schema, list):
        return set().union(*(_references(item) for item in schema))
    if not isinstance(schema, dict):
        return set()
    found = set().union(*(_references(value) for value in schema.values()))
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith(SCHEMAS):
        found.add(ref.removeprefix(SCHEMAS))
    return found


def rest_schemas(names: tuple[str, ...] = REST_OBJECTS) -> dict[str, dict]:
    """The OpenAPI document's component schemas `names`, and those they refer to, as JSON
    Schema, by name."""
    generator = spectacular_settings.DEFAULT_GENERATOR_CLASS()
    openapi = generator.get_schema(request=None, public=True)["components"]["schemas"]
    found: dict[str, dict] = {}
    wanted = list(names)
    while wanted:
        name = wanted.pop()
        if name not in found:
            found[name] = json_schema(openapi[name])
            wanted += _references(openapi[name])
    return dict(sorted(found.items()))


# --- The events ----------------------------------------------------------------------------


def _ref(name: str) -> dict:
    return {"$ref": SCHEMAS + name}


def _id(description: str) -> dict:
    return {"type": "integer", "description": description}


CURSOR = {
    "type": "integer",
    "minimum": 1,
    "description": "This change's place in the user's change log (1, 2, 3, ... per user, in "
    "the order the changes committed). Keep the newest one seen: it is the `since` to "
    "reconnect with.",
}
THREAD = _id("The thread the event is about.")


def _payload(kind: str, properties: dict, *, change: bool = True) -> dict:
    """An event's payload: `type` (the event's name), its own fields and, for a change of
    the log, its `cursor`. All of them are always there but those named optional."""
    optional = {name for name, schema in properties.items() if schema.pop("optional", False)}
    fields = {"type": {"type": "string", "const": kind}, **properties}
    if change:
        fields["cursor"] = CURSOR
    return {
        "type": "object",
        "properties": fields,
        "required": [name for name in fields if name not in optional],
    }


def _message_event(kind: str, data: str) -> dict:
    return _payload(
        kind,
        {
            "thread": THREAD,
            "message": _id("The message's id."),
            "data": {
                "description": f"{data} Caught up from the change log (`since`), it is the "
                "message as it is when read, as the REST API shows it then (later edits "
                "included, deleted once deleted), and null once the message is gone for "
                "good (deleted with its thread, or removed by a moderator).",
                "oneOf": [_ref("Message"), {"type": "null"}],
            },
        },
    )


def event_messages(schemas: dict[str, dict]) -> dict[str, dict]:
    """Every message of the channel, server to client and client to server, by key."""
    reaction = schemas["Reaction"]

    def reaction_event(kind: str) -> dict:
        return _payload(kind, copy.deepcopy(reaction["properties"]))

    message_example = {"thread": 2, "message": 10, "data": EXAMPLE_MESSAGE}
    deleted = {**EXAMPLE_MESSAGE, "text": "", "deleted": "2026-11-26T09:05:12.004811Z"}
    reacted = {
        "thread": 2,
        "message": 10,
        "emoji": "\N{THUMBS UP SIGN}",
        "user": 1,
        "user_detail": {"id": 1, "username": "alice"},
    }
    messages = {
        "messageCreated": (
            events.MESSAGE_CREATED,
            "A message was posted",
            "Both participants get it, the sender's other connections included.",
            _message_event(events.MESSAGE_CREATED, "The message, as the REST API returns it."),
            [("Alice's message", {**message_example, "cursor": 31})],
            "Messages",
        ),
        "messageUpdated": (
            events.MESSAGE_UPDATED,
            "A message was edited, or a moderator removed one of its files",
            "Both participants get it; each copy's `reactions` say `me` from its recipient's side. "
            "A file a moderator removed is gone from `attachments`, and `edited` is unchanged.",
            _message_event(events.MESSAGE_UPDATED, "The message as it now is."),
            [
                (
                    "An edit",
                    {
                        **message_example,
                        "data": {
                            **EXAMPLE_MESSAGE,
                            "text": "Are you there? Call me.",
                            "edited": "2026-11-26T09:02:30.118000Z",
                        },
                        "cursor": 33,
                    },
                )
            ],
            "Messages",
        ),
        "messageDeleted": (
            events.MESSAGE_DELETED,
            "A message was deleted",
            "Both participants get it. A deleted message keeps its place: empty `text`, no "
            "attachments or reactions, a `deleted` time. `data` is null when a moderator "
            "removed it for good.",
            _message_event(events.MESSAGE_DELETED, "The message as deleted."),
            [
                ("Deleted by its sender", {**message_example, "data": deleted, "cursor": 34}),
                ("Removed by a moderator", {**message_example, "data": None, "cursor": 35}),
            ],
            "Messages",
        ),
        "threadCreated": (
            events.THREAD_CREATED,
            "A thread was started",
            "Both participants get it, each with the thread as their own thread list shows "
            "it. Events for the new thread follow on the same socket.",
            _payload(
                events.THREAD_CREATED,
                {
                    "thread": _id("The new thread's id."),
                    "data": {
                        **_ref("Thread"),
                        "description": "The thread as the recipient's list shows it.",
                    },
                },
            ),
            [("Alice starts a thread", {"thread": 2, "data": EXAMPLE_THREAD, "cursor": 30})],
            "Threads",
        ),
        "threadDeleted": (
            events.THREAD_DELETED,
            "A thread was deleted",
            "Both participants get it; the thread's messages and attachments are gone.",
            _payload(events.THREAD_DELETED, {"thread": _id("The deleted thread's id.")}),
            [("A deleted thread", {"thread": 2, "cursor": 36})],
            "Threads",
        ),
        "threadRead": (
            events.THREAD_READ,
            "A participant read a thread",
            "A read receipt, to both participants. The reader's own connections also get "
            "`unread_count`, their new count in that thread.",
            _payload(
                events.THREAD_READ,
                {
                    "thread": THREAD,
                    "reader": _id("Who read: a user id."),
                    "up_to": _id("The newest message id the read reached."),
                    "unread_count": {
                        "type": "integer",
                        "minimum": 0,
                        "description": "The reader's unread messages left in the thread: "
                        "only in the reader's own copy.",
                        "optional": True,
                    },
                },
            ),
            [
                ("The other's copy", {"thread": 2, "reader": 2, "up_to": 10, "cursor": 37}),
                (
                    "The reader's copy",
                    {"thread": 2, "reader": 2, "up_to": 10, "unread_count": 0, "cursor": 38},
                ),
            ],
            "Threads",
        ),
        "reactionAdded": (
            events.REACTION_ADDED,
            "Someone reacted to a message",
            "Both participants get it. `reactions` is the message's whole state after the "
            "change, as the recipient sees it (`me`): replace the message's with it. The "
            "fields are the REST API's answer to adding a reaction.",
            reaction_event(events.REACTION_ADDED),
            [
                (
                    "Bob's copy of Alice's reaction",
                    {
                        **reacted,
                        "reactions": [{"emoji": "\N{THUMBS UP SIGN}", "count": 1, "me": False}],
                        "cursor": 32,
                    },
                )
            ],
            "Reactions",
        ),
        "reactionRemoved": (
            events.REACTION_REMOVED,
            "Someone took a reaction back",
            "Both participants get it, with the same fields as `reaction.added`.",
            reaction_event(events.REACTION_REMOVED),
            [("The last reaction taken back", {**reacted, "reactions": [], "cursor": 39})],
            "Reactions",
        ),
        "typing": (
            events.TYPING,
            "The other participant is typing",
            "Passed on from the other participant's client, at most once per "
            "WEBSOCKET_TYPING_INTERVAL seconds (a server setting: the README's Configuration) "
            "per thread; never stored, so it has no `cursor` and is not caught up.",
            _payload(
                events.TYPING,
                {"thread": THREAD, "user": _id("Who is typing: a user id.")},
                change=False,
            ),
            [("Bob is typing", {"thread": 2, "user": 2})],
            "Typing",
        ),
        "error": (
            "error",
            "A client message or a `since` was refused",
            "Sent to the client whose message the server cannot take (the socket stays "
            "open), or before closing on a `since` that is not a cursor (4400) or is older "
            "than the change log keeps (4410). Not a change: no `cursor`.",
            _payload(
                "error",
                {
                    "code": {
                        "type": "string",
                        "enum": sorted({error.code for error, _ in SOCKET_ERRORS}),
                        "description": "A stable code, for programs.",
                    },
                    "detail": {"type": "string", "description": "What went wrong, for people."},
                    "thread": {
                        **_id("The thread a refused typing notice named (`not_found`)."),
                        "optional": True,
                    },
                },
                change=False,
            ),
            [
                (error.__name__, {"code": error.code, "detail": _detail(error), **context})
                for error, context in SOCKET_ERRORS
            ],
            "Errors",
        ),
        "clientTyping": (
            events.TYPING,
            "The user is typing",
            "The only message a client sends, while its user types in a thread. Passed on to "
            "the other participant at most once per WEBSOCKET_TYPING_INTERVAL per thread. A "
            "thread that is not the user's (or whose other participant blocked them) is "
            "answered with an `error` event `not_found`; anything else that is not this "
            "message, with `invalid` (`parse_error` if it is not JSON). A socket takes "
            "WEBSOCKET_MESSAGES_PER_SECOND client messages a second (a server setting; more "
            "are answered `throttled`), of at most "
            f"{MESSAGE_LIMIT_BYTES // 1024} KiB each (a larger one closes it with 1009).",
            _payload(
                events.TYPING,
                {
                    "thread": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": SyncQuerySerializer().fields["since"].max_value,
                        "description": "The thread the user is typing in.",
                    }
                },
                change=False,
            ),
            [("Typing in thread 2", {"thread": 2})],
            "Typing",
        ),
    }
    return {
        key: {
            "name": kind,
            "title": title,
            "summary": summary,
            "contentType": "application/json",
            "payload": payload,
            "examples": [
                {"name": name, "payload": {"type": kind, **example}} for name, example in examples
            ],
            "tags": [{"name": tag}],
        }
        for key, (kind, title, summary, payload, examples, tag) in messages.items()
    }


def _detail(error: type[ChatError]) -> str:
    if error is NotACursor:  # its text is the sync endpoint's own
        params = SyncQuerySerializer(data={"since": "soon"})
        params.is_valid()
        return str(params.errors["since"][0])
    return error.detail


# --- The document ---------------------------------------------------------------------------

INFO = """\
The chat's WebSocket: a client's live feed of events for every thread its user takes part in
(threads created later included), and nothing else. Events are sent once their change is
committed. The REST API is described by its OpenAPI document, `/api/schema/`.

This document describes the server: its `send` operations are the events a client receives,
its one `receive` operation is the one message a client sends (`typing`). Every event is a
JSON object whose `type` names it. Clients should ignore fields they do not know.

**Authentication**: the access token from `POST /api/token/`, either as the two subprotocols
`bearer, <access>` (the server answers `bearer`; this keeps the token out of URLs and logs)
or as `?token=<access>`. Browsers cannot set an Authorization header on a WebSocket; both ways
work from a browser. A refused handshake is completed, then closed with 4401, so that browser
clients can read why. A connection lasts as long as its token: it closes with 4401 when the
token expires, and when the account is deleted, deactivated or its password changes.
"""

CHANNEL_DESCRIPTION = """\
One socket per client, on the REST API's host and port. It carries the events of the user's
change log, each with its `cursor`, and two that are not changes: `typing` and `error`.

**Catching up with `since`**: every change is also kept in the user's change log (the events
with a `cursor`; `GET /api/sync/?since=` reads the same log over REST). A client keeps the
newest `cursor` it has seen and reconnects with `/ws/?since=<cursor>`: the socket first sends
every change after it, oldest first, then the live ones, with no gap and no duplicate between
them. Without `since` the socket sends only what changes from then on. A socket sends a user's
changes in cursor order, each once; one the server could not deliver live comes late, never
lost. A `since` that is not a cursor gets an `error` event `invalid` and close code 4400; one
older than the change log keeps (SYNC_RETENTION_DAYS), an `error` event `resync_required` and
4410: load everything again over REST and connect with the cursor that `GET /api/sync/`
without `since` answers.

**Reconnecting**: on a close other than 4400, 4401 and 4410 (or a lost connection), reconnect
with `since` after a pause that grows from about a second to a minute, with some randomness.
On 4401, get a fresh access token first.

**Close codes**:

| Code | Meaning |
|---|---|
{close_codes}
"""


def document() -> dict:
    """The AsyncAPI 3 document, as a dict in the order it is written."""
    schemas = rest_schemas()
    since = SyncQuerySerializer().fields["since"]
    security = [
        {"$ref": "#/components/securitySchemes/subprotocolToken"},
        {"$ref": "#/components/securitySchemes/queryToken"},
    ]
    messages = event_messages(schemas)
    channel_ref = {"$ref": f"#/channels/{CHANNEL}"}

    def operation(key: str, action: str, summary: str) -> dict:
        return {
            "action": action,
            "channel": channel_ref,
            "summary": summary,
            "messages": [{"$ref": f"#/channels/{CHANNEL}/messages/{key}"}],
            "tags": messages[key]["tags"],
        }

    operations = {
        f"send{key[0].upper()}{key[1:]}": operation(
            key, "send", f"`{message['name']}`: {message['title']}."
        )
        for key, message in messages.items()
        if key != "clientTyping"
    }
    operations["receiveTyping"] = operation(
        "clientTyping", "receive", "`typing` from a client: its user is typing in a thread."
    )
    close_table = "\n".join(f"| {code} | {meaning} |" for code, meaning in close_codes())
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Chat WebSocket API",
            "version": spectacular_settings.VERSION,
            "description": INFO,
        },
        "defaultContentType": "application/json",
        "servers": {
            "development": {
                "host": "127.0.0.1:8000",
                "protocol": "ws",
                "description": "`make run`'s server (the README's walk-through).",
                "security": security,
            },
            "production": {
                "host": "{host}",
                "protocol": "wss",
                "description": "A deployment behind TLS, on the REST API's host.",
                "variables": {
                    "host": {
                        "default": "chat.example.com",
                        "description": "The deployment's host name (and port, if not 443).",
                    }
                },
                "security": security,
            },
        },
        "channels": {
            CHANNEL: {
                "address": "/ws/",
                "title": "The event feed",
                "description": CHANNEL_DESCRIPTION.format(close_codes=close_table),
                "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in messages},
                "bindings": {
                    "ws": {
                        "method": "GET",
                        "query": {
                            "type": "object",
                            "properties": {
                                "token": {
                                    "type": "string",
                                    "description": "The access token, unless it is sent as "
                                    "a subprotocol.",
                                },
                                "since": {
                                    "type": "integer",
                                    "minimum": since.min_value,
                                    "maximum": since.max_value,
                                    "description": "The newest cursor the client has seen: the "
                                    "socket sends the changes after it first, then the live "
                                    "ones. Omit it to get only what changes from now on.",
                                },
                            },
                        },
                        "bindingVersion": "0.1.0",
                    }
                },
                "x-close-codes": {str(code): meaning for code, meaning in close_codes()},
            }
        },
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "securitySchemes": {
                "subprotocolToken": {
                    "type": "httpApiKey",
                    "in": "header",
                    "name": "Sec-WebSocket-Protocol",
                    "description": f"The subprotocols `{consumers.SUBPROTOCOL}, <access>` "
                    "(JavaScript: `new WebSocket(url, ['bearer', access])`); the server "
                    f"answers `{consumers.SUBPROTOCOL}`. Keeps the token out of URLs.",
                },
                "queryToken": {
                    "type": "httpApiKey",
                    "in": "query",
                    "name": "token",
                    "description": "`?token=<access>`: the access token in the query string "
                    "(the server redacts it from its logs).",
                },
            },
        },
    }


class _Dumper(yaml.SafeDumper):
    """Writes multi-line text (the descriptions) as literal blocks, readable in the file,
    and a schema used twice in full each time (no YAML anchors and aliases)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_text)


def document_yaml() -> str:
    """The document as YAML: what docs/asyncapi.yaml holds and /api/asyncapi.yaml serves."""
    return yaml.dump(document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


@functools.cache
def _served() -> bytes:
    return document_yaml().encode()


@csrf_exempt  # nothing is changed here: any other method gets its 405, not CSRF's 403
def asyncapi_view(request: HttpRequest) -> HttpResponse:
    """The document, to anyone (like the OpenAPI document at /api/schema/)."""
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed(request.method, "GET, HEAD")
    return HttpResponse(_served(), content_type="application/yaml; charset=utf-8")
