"""drf-spectacular: the threads app's examples, as the API answers them.

alice (id 1) and bob (id 2) talk in their thread 1, as in the README's walk-through; the
views (threads/views.py) name these in their `extend_schema`. The shapes are checked
against the schema (chat_project/tests/test_schema.py).
"""

from drf_spectacular.utils import OpenApiExample

from chat_project.pagination import EXAMPLE_ORIGIN
from users.schema import USER_ALICE, USER_BOB


def message(id: int, sender: dict, text: str, created: str, **fields) -> dict:
    """A message of thread 1 as every endpoint answers it."""
    return {
        "id": id,
        "thread": 1,
        "sender": sender["id"],
        "sender_detail": sender,
        "text": text,
        "created": created,
        "is_read": False,
        "edited": None,
        "deleted": None,
        "attachments": [],
        "reactions": [],
        **fields,
    }


# The thread's history: alice asks, bob answers four times (alice has read none of it).
MESSAGES = [
    message(1, USER_ALICE, "Lunch at noon?", "2026-12-02T03:12:39.965153Z"),
    message(2, USER_BOB, "Sure, the usual place", "2026-12-02T03:12:39.971865Z"),
    message(3, USER_BOB, "I'll book a table", "2026-12-02T03:12:39.978570Z"),
    message(4, USER_BOB, "Booked: 12:00, by the window", "2026-12-02T03:12:39.984921Z"),
    message(5, USER_BOB, "See you there", "2026-12-02T03:12:39.990345Z"),
]
MESSAGE = MESSAGES[0]
MESSAGE_EDITED = {**MESSAGE, "text": "Lunch at 12:30?", "edited": "2026-12-02T03:12:40.029516Z"}

ATTACHMENT_PHOTO = {
    "id": 2,
    "name": "photo.png",
    "size": 1946,
    "content_type": "image/png",
    "width": 640,
    "height": 480,
    "url": "/api/attachments/2?expires=1796187600"
    "&signature=pk2xChn5FszxJ0k4rPzUoTL3c7Qm9vXn1wQeB8sYt2M",
    "thumbnail_url": "/api/attachments/2/thumbnail?expires=1796187600"
    "&signature=GGjQsL1iD0eWv7rXh2nZk9aP4uTq3mYc6bFs8oJxN5E",
}
ATTACHMENT_TEXT = {
    "id": 3,
    "name": "agenda.txt",
    "size": 25,
    "content_type": "text/plain",
    "width": None,
    "height": None,
    "url": "/api/attachments/3?expires=1796187600"
    "&signature=XU9sqqnLX6sP6X2Y4qegZdEoG3iwsmE11ueNveCCrpQ",
    "thumbnail_url": None,
}
MESSAGE_WITH_FILES = message(
    6,
    USER_ALICE,
    "The plan",
    "2026-12-02T03:12:40.077723Z",
    attachments=[ATTACHMENT_PHOTO, ATTACHMENT_TEXT],
)

THREAD_NEW = {
    "id": 1,
    "participants": [1, 2],
    "participants_detail": [USER_ALICE, USER_BOB],
    "created": "2026-12-02T03:12:39.927894Z",
    "updated": "2026-12-02T03:12:39.927894Z",
    "last_message": None,
    "unread_count": 0,
}
# The thread as alice sees it after bob's answers.
THREAD = {
    **THREAD_NEW,
    "updated": MESSAGES[-1]["created"],
    "last_message": MESSAGES[-1],
    "unread_count": 4,
}

REACTION = {
    "thread": 1,
    "message": 1,
    "emoji": "👍",
    "user": 2,
    "user_detail": USER_BOB,
    "reactions": [{"emoji": "👍", "count": 1, "me": True}],
}


def _messages_url(query: str) -> str:
    return f"{EXAMPLE_ORIGIN}/api/threads/1/messages/?{query}"


def _newest_first(*ids: int) -> list[dict]:
    return [MESSAGES[id - 1] for id in ids]


MESSAGE_PAGES = [
    OpenApiExample(
        "page by offset",
        summary="?limit=2&offset=2: a page by offset",
        value={
            "count": 5,
            "next": _messages_url("limit=2&offset=4"),
            "previous": _messages_url("limit=2"),
            "results": _newest_first(3, 2),
        },
        response_only=True,
    ),
    OpenApiExample(
        "scrolling back",
        summary="?limit=2&before=4: scrolling back",
        value={"has_more_before": True, "has_more_after": True, "results": _newest_first(3, 2)},
        response_only=True,
    ),
    OpenApiExample(
        "catching up",
        summary="?limit=2&after=2: catching up",
        value={"has_more_before": True, "has_more_after": True, "results": _newest_first(4, 3)},
        response_only=True,
    ),
    OpenApiExample(
        "where alice left off",
        summary="?limit=2&around=first_unread: where alice left off",
        value={
            "has_more_before": False,
            "has_more_after": True,
            "results": _newest_first(2, 1),
        },
        response_only=True,
    ),
]

SYNC_CHANGES = [
    OpenApiExample(
        "bob catches up",
        summary="?since=9&limit=2: bob catches up",
        value={
            "changes": [
                {"type": "thread.read", "thread": 1, "reader": 1, "up_to": 3, "cursor": 10},
                {
                    "type": "message.created",
                    "thread": 1,
                    "message": 6,
                    "data": MESSAGE_WITH_FILES,
                    "cursor": 11,
                },
            ],
            "cursor": 11,
            "has_more": True,
        },
    ),
    OpenApiExample(
        "where to start",
        summary="no since: where to start",
        value={"changes": [], "cursor": 12, "has_more": False},
    ),
]
