"""Reads. One function per read shape; each owns its query and builds the JSON-ready rows
the API returns, so no serializer ever queries per row. Every function is scoped to the
requester.

The hot reads (thread list, message pages) select plain values and build dicts directly:
model instances and field-by-field serialization cost several times the SQL itself. The
shapes are declared once, in `message_row` and `thread_rows`; the DRF serializers in
`serializers.py` describe the same shapes for validation and the OpenAPI schema, and
MessageSerializer renders through `message_row`.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import F, QuerySet, Sum

from threads.models import Message, Participant, Thread

MESSAGE_FIELDS = (
    "id",
    "thread_id",
    "sender_id",
    "sender__username",
    "text",
    "created",
    "is_read",
    "edited",
    "deleted",
)


def api_datetime(value: datetime | None) -> str | None:
    """A datetime as DRF renders it: ISO 8601, UTC as `Z`."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def message_row(values: dict) -> dict:
    """A message as every endpoint returns it, from its MESSAGE_FIELDS values."""
    return {
        "id": values["id"],
        "thread": values["thread_id"],
        "sender": values["sender_id"],
        "sender_detail": {"id": values["sender_id"], "username": values["sender__username"]},
        "text": values["text"],
        "created": api_datetime(values["created"]),
        "is_read": values["is_read"],
        "edited": api_datetime(values["edited"]),
        "deleted": api_datetime(values["deleted"]),
    }


def threads_of(user: AbstractBaseUser) -> QuerySet[Thread]:
    """The threads `user` takes part in, bare. Any other thread is simply absent, which is
    what makes every thread endpoint answer 404 to a stranger."""
    return Thread.objects.filter(memberships__user=user)


# --- The thread list -------------------------------------------------------------------

_LAST_MESSAGE = {f"last_{name}": F(f"thread__last_message__{name}") for name in MESSAGE_FIELDS}


def thread_list_for(user: AbstractBaseUser) -> QuerySet:
    """The requester's thread list, most recent activity first, as values: one range of the
    (user, -updated) membership index joined to each thread and its last message by
    primary key. Pass the page through `thread_rows` for the API's rows."""
    return (
        Participant.objects.filter(user=user)
        .order_by("-updated", "-thread_id")
        .values(
            "thread_id",
            "unread_count",
            created=F("thread__created"),
            thread_updated=F("thread__updated"),
            **_LAST_MESSAGE,
        )
    )


def thread_rows(page: list[dict]) -> list[dict]:
    """The API's thread rows for a page of `thread_list_for`, with both participants of
    every thread fetched in one query."""
    thread_ids = [row["thread_id"] for row in page]
    people: dict[int, list[dict]] = {thread_id: [] for thread_id in thread_ids}
    members = (
        Participant.objects.filter(thread_id__in=thread_ids)
        .order_by("user_id")
        .values_list("thread_id", "user_id", "user__username")
    )
    for thread_id, user_id, username in members:
        people[thread_id].append({"id": user_id, "username": username})
    return [
        {
            "id": row["thread_id"],
            "participants": [person["id"] for person in people[row["thread_id"]]],
            "participants_detail": people[row["thread_id"]],
            "created": api_datetime(row["created"]),
            "updated": api_datetime(row["thread_updated"]),
            "last_message": (
                message_row({name: row[f"last_{name}"] for name in MESSAGE_FIELDS})
                if row["last_id"] is not None
                else None
            ),
            "unread_count": row["unread_count"],
        }
        for row in page
    ]


def thread_row_for(user: AbstractBaseUser, thread_id: int) -> dict | None:
    """One thread as the list shows it to `user`, or None if it is not theirs."""
    page = list(thread_list_for(user).filter(thread_id=thread_id))
    return thread_rows(page)[0] if page else None


# --- Unread counts ---------------------------------------------------------------------


def thread_unread_count(*, thread: Thread, reader: AbstractBaseUser) -> int:
    """How many messages in `thread` wait for `reader`: unread, not deleted, sent by the
    other participant (kept exact on the reader's membership)."""
    return (
        Participant.objects.filter(thread=thread, user=reader)
        .values_list("unread_count", flat=True)
        .get()
    )


def unread_total_for(user: AbstractBaseUser) -> int:
    """How many messages wait for `user` across all their threads."""
    total = Participant.objects.filter(user=user).aggregate(total=Sum("unread_count"))["total"]
    return total or 0


# --- Messages --------------------------------------------------------------------------


def message_list_for(thread: Thread, *, search: str = "") -> QuerySet:
    """A thread's messages, newest first, as MESSAGE_FIELDS values, optionally only those
    whose text contains `search`. The caller has scoped `thread` to the requester."""
    messages = Message.objects.filter(thread=thread)
    if search:
        messages = messages.filter(text__icontains=search, deleted__isnull=True)
    return messages.order_by("-id").values(*MESSAGE_FIELDS)


def message_search_for(user: AbstractBaseUser, *, search: str = "") -> QuerySet:
    """Messages across all of `user`'s threads, newest first, as MESSAGE_FIELDS values,
    optionally only those whose text contains `search`."""
    messages = Message.objects.filter(thread__memberships__user=user)
    if search:
        messages = messages.filter(text__icontains=search, deleted__isnull=True)
    return messages.order_by("-id").values(*MESSAGE_FIELDS)


def first_unread_id(thread: Thread, reader: AbstractBaseUser) -> int | None:
    """Id of the oldest message in `thread` that `reader` has not read yet."""
    return (
        Message.objects.filter(thread=thread)
        .waiting_for(reader)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )


@dataclass(frozen=True)
class MessageWindow:
    """One page of a thread's history around a cursor, newest first."""

    results: list[dict]
    has_more_before: bool
    has_more_after: bool


def message_window(
    messages: QuerySet,
    *,
    before: int | None = None,
    after: int | None = None,
    around: int | None = None,
    limit: int,
) -> MessageWindow:
    """Keyset paging by message id (ids only grow, so id order is posting order) over
    `message_list_for` values; the results are API rows.

    `before`: the `limit` newest messages older than that id. `after`: the `limit` oldest
    messages newer than it (a client catching up reads forward without gaps). `around`:
    that message and the ones just before and after it. No cursor: the newest page.
    Costs at most three indexed queries, however deep in the history the page is.
    """
    newest_first = messages.order_by("-id")
    oldest_first = messages.order_by("id")
    if after is not None:
        rows = list(oldest_first.filter(id__gt=after)[: limit + 1])
        has_more_after = len(rows) > limit
        rows = rows[:limit]
        oldest = rows[0]["id"] if rows else after + 1
        has_more_before = newest_first.filter(id__lt=oldest).exists()
        return _window(rows[::-1], has_more_before, has_more_after)
    if around is not None:
        # Half the page on each side; near either end of the history the other side fills
        # the page, so a reader never gets a half-empty page while there is more to show.
        newer = list(oldest_first.filter(id__gte=around)[: limit + 1])
        older = list(newest_first.filter(id__lt=around)[: limit + 1])
        newer_taken = min(len(newer), max(limit - limit // 2, limit - len(older)))
        older_taken = min(len(older), limit - newer_taken)
        rows = newer[:newer_taken][::-1] + older[:older_taken]
        return _window(rows, len(older) > older_taken, len(newer) > newer_taken)
    page = newest_first if before is None else newest_first.filter(id__lt=before)
    rows = list(page[: limit + 1])
    has_more_before = len(rows) > limit
    rows = rows[:limit]
    if before is None:
        has_more_after = False
    else:
        newest = rows[0]["id"] if rows else before - 1
        has_more_after = newest_first.filter(id__gt=newest).exists()
    return _window(rows, has_more_before, has_more_after)


def _window(rows: list[dict], has_more_before: bool, has_more_after: bool) -> MessageWindow:
    return MessageWindow([message_row(row) for row in rows], has_more_before, has_more_after)
