"""Reads. One function per read shape; each owns its query and builds the JSON-ready rows
the API returns, so no serializer ever queries per row. Every function is scoped to the
requester.

The hot reads (thread list, message pages) select plain values and build dicts directly:
model instances and field-by-field serialization cost several times the SQL itself. The
shapes are declared once, in `message_row` and `thread_page_for`; the DRF serializers in
`serializers.py` describe the same shapes for validation and the OpenAPI schema, and
MessageSerializer renders through `message_row`.
"""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet, Sum

from chat_project.rawsql import db_datetime, fetch_instance, model_columns
from threads.models import Message, Participant, Thread
from users.models import Block

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


def message_row_of(message: Message) -> dict:
    """`message_row` of a model instance (its sender loaded)."""
    values = {name: getattr(message, name) for name in MESSAGE_FIELDS if "__" not in name}
    return message_row(values | {"sender__username": message.sender.get_username()})


def threads_of(user: AbstractBaseUser) -> QuerySet[Thread]:
    """The threads `user` takes part in, bare, as a queryset (the viewset's `get_queryset`,
    for DRF and the schema). Requests look threads up with `thread_for`, scoped the same
    way: any other thread is simply absent, so a stranger gets 404."""
    return Thread.objects.filter(memberships__user=user)


def thread_for(user: AbstractBaseUser, thread_id: int) -> Thread | None:
    """The thread `thread_id` if `user` takes part in it, else None: the look-up every
    endpoint under /api/threads/<id>/ starts with. The thread carries
    `reader_unread_count`, how many of its messages wait for `user` (their membership's
    counter, read in the same query). A raw query (a join on two unique keys) because the
    ORM spent longer compiling this join than the database spent running it."""
    return fetch_instance(
        Thread,
        f"SELECT {model_columns(Thread, 't')}, p.unread_count "
        "FROM threads_thread t JOIN threads_participant p "
        "ON p.thread_id = t.id AND p.user_id = %s WHERE t.id = %s",
        [user.pk, thread_id],
        extra=("reader_unread_count",),
    )


def typing_recipient_for(user: AbstractBaseUser, thread_id: int) -> int | None:
    """Who hears that `user` is typing in `thread_id`: the other participant's id, or None
    when `user` does not take part in it or may not write in it (the other has blocked
    them), just as for posting."""
    blocked = Block.objects.filter(blocker_id=OuterRef("user_id"), blocked_id=user.pk)
    return (
        Participant.objects.filter(thread_id=thread_id, thread__memberships__user=user)
        .exclude(user=user)
        .exclude(Exists(blocked))
        .values_list("user_id", flat=True)
        .first()
    )


# --- The thread list -------------------------------------------------------------------

# The thread list is the hottest read and its query the most joined: built with the ORM,
# compiling it cost six times what running it did (1.4 of 1.6 ms per page on the
# benchmark data), so it is written out once here. Portable SQL (SQLite and PostgreSQL);
# every value is a bound parameter.
THREAD_PAGE_SQL = """
SELECT p.thread_id, p.unread_count, t.created, t.updated,
       o.user_id, ou.username,
       m.id, m.thread_id, m.sender_id, su.username, m.text, m.created, m.is_read, m.edited,
       m.deleted
FROM threads_participant p
JOIN threads_thread t ON t.id = p.thread_id
LEFT JOIN threads_participant o ON o.thread_id = p.thread_id AND o.user_id <> p.user_id
LEFT JOIN users_user ou ON ou.id = o.user_id
LEFT JOIN threads_message m ON m.id = t.last_message_id
LEFT JOIN users_user su ON su.id = m.sender_id
WHERE p.user_id = %s {only_thread}
ORDER BY p.updated DESC, p.thread_id DESC
LIMIT %s OFFSET %s
"""


def thread_page_for(
    user: AbstractBaseUser, *, limit: int, offset: int = 0, thread_id: int | None = None
) -> list[dict]:
    """A page of `user`'s threads, most recent activity first, as the API's rows: one range
    of the (user, -updated) membership index, joined by key to each thread, the other
    participant and the last message. One query, however many threads the user has.
    With `thread_id`, just that thread (an empty list if it is not the user's)."""
    params: list = [user.pk]
    only_thread = ""
    if thread_id is not None:
        only_thread = "AND p.thread_id = %s"
        params.append(thread_id)
    with connection.cursor() as cursor:
        cursor.execute(THREAD_PAGE_SQL.format(only_thread=only_thread), [*params, limit, offset])
        rows = cursor.fetchall()
    me = {"id": user.pk, "username": user.get_username()}
    page = []
    for row in rows:
        people = [me] if row[4] is None else [me, {"id": row[4], "username": row[5]}]
        people.sort(key=lambda person: person["id"])
        last_message = None
        if row[6] is not None:
            last_message = message_row(
                dict(zip(MESSAGE_FIELDS, _db_values(row[6:15]), strict=True))
            )
        page.append(
            {
                "id": row[0],
                "participants": [person["id"] for person in people],
                "participants_detail": people,
                "created": api_datetime(db_datetime(row[2])),
                "updated": api_datetime(db_datetime(row[3])),
                "last_message": last_message,
                "unread_count": row[1],
            }
        )
    return page


def _db_values(message: tuple) -> tuple:
    """A raw message row (MESSAGE_FIELDS order) with datetimes and booleans normalised."""
    id_, thread, sender, username, text, created, is_read, edited, deleted = message
    return (
        id_,
        thread,
        sender,
        username,
        text,
        db_datetime(created),
        bool(is_read),
        db_datetime(edited),
        db_datetime(deleted),
    )


def thread_row_for(user: AbstractBaseUser, thread_id: int) -> dict | None:
    """One thread as the list shows it to `user`, or None if it is not theirs."""
    page = thread_page_for(user, limit=1, thread_id=thread_id)
    return page[0] if page else None


# --- Unread counts ---------------------------------------------------------------------


def unread_total_for(user: AbstractBaseUser) -> int:
    """How many messages wait for `user` across all their threads."""
    total = Participant.objects.filter(user=user).aggregate(total=Sum("unread_count"))["total"]
    return total or 0


# --- Messages --------------------------------------------------------------------------


class ThreadMessages:
    """One thread's messages (optionally only those matching `search`), newest first, read
    with hand-written SQL: the message pages are the API's busiest reads after the thread
    list, and the ORM spent more time compiling them than the database spent answering.
    Every value is a bound parameter. The caller has scoped the thread to the requester.
    """

    COLUMNS = (
        "m.id, m.thread_id, m.sender_id, u.username, m.text, m.created, m.is_read, "
        "m.edited, m.deleted"
    )
    MORE = 9  # the position of the `more` flag, after COLUMNS
    # The only comparison operators that can reach the SQL text.
    OPERATORS = {">=": ">=", "<=": "<="}

    def __init__(self, thread: Thread, *, search: str = "") -> None:
        self.thread = thread
        self.search = search
        self.pattern = f"%{connection.ops.prep_for_like_query(search)}%" if search else None

    def _where(self, alias: str) -> tuple[str, list]:
        where, params = f"{alias}.thread_id = %s", [self.thread.pk]
        if self.pattern is not None:
            # UPPER(...) LIKE UPPER(...) is what icontains compiles to; on PostgreSQL the
            # trigram index on UPPER(text) serves it.
            where += (
                f" AND {alias}.deleted IS NULL AND UPPER({alias}.text) LIKE UPPER(%s) ESCAPE '\\'"
            )
            params.append(self.pattern)
        return where, params

    def rows(
        self,
        *,
        limit: int,
        offset: int = 0,
        newest_first: bool = True,
        id_below: int | None = None,
        id_from: int | None = None,
        id_above: int | None = None,
        more: tuple[str, int] | None = None,
    ) -> list[tuple]:
        """Raw rows (COLUMNS, then a `more` flag if asked): ids below `id_below`, from
        `id_from` on, or above `id_above`. `more` = (">=" or "<=", id): also whether any
        message of the same selection lies on that side of that id, in the same query."""
        where, params = self._where("m")
        if id_below is not None:
            where += " AND m.id < %s"
            params.append(id_below)
        if id_from is not None:
            where += " AND m.id >= %s"
            params.append(id_from)
        if id_above is not None:
            where += " AND m.id > %s"
            params.append(id_above)
        select = self.COLUMNS
        if more is not None:
            operator, cursor_id = more
            operator = self.OPERATORS[operator]
            more_where, more_params = self._where("n")
            select += (
                f", EXISTS(SELECT 1 FROM threads_message n "
                f"WHERE {more_where} AND n.id {operator} %s)"
            )
            params = [*more_params, cursor_id, *params]
        order = "DESC" if newest_first else "ASC"
        sql = (
            f"SELECT {select} FROM threads_message m JOIN users_user u ON u.id = m.sender_id "
            f"WHERE {where} ORDER BY m.id {order} LIMIT %s OFFSET %s"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, limit, offset])
            return cursor.fetchall()

    def exists(self, operator: str, cursor_id: int) -> bool:
        operator = self.OPERATORS[operator]
        where, params = self._where("m")
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT EXISTS(SELECT 1 FROM threads_message m "
                f"WHERE {where} AND m.id {operator} %s)",
                [*params, cursor_id],
            )
            return bool(cursor.fetchone()[0])

    def count(self) -> int:
        """The number of messages: the thread's exact counter, or a count when searching."""
        if self.pattern is None:
            return self.thread.message_count
        where, params = self._where("m")
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM threads_message m WHERE {where}", params)
            return cursor.fetchone()[0]

    def page(self, *, limit: int, offset: int) -> list[dict]:
        """A limit/offset page of API rows, newest first."""
        return [_api_message(row) for row in self.rows(limit=limit, offset=offset)]


def _api_message(row: tuple) -> dict:
    return message_row(dict(zip(MESSAGE_FIELDS, _db_values(row[:9]), strict=True)))


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
        Message.objects.waiting_for(reader, thread=thread)
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
    messages: ThreadMessages,
    *,
    before: int | None = None,
    after: int | None = None,
    around: int | None = None,
    limit: int,
) -> MessageWindow:
    """Keyset paging by message id (ids only grow, so id order is posting order).

    `before`: the `limit` newest messages older than that id. `after`: the `limit` oldest
    messages newer than it (a client catching up reads forward without gaps). `around`:
    that message and the ones just before and after it. No cursor: the newest page.
    One or two index range scans, however deep in the history the page is; whether there
    is more on the side the cursor came from rides along in the page's own query.
    """
    if after is not None:
        rows = messages.rows(
            limit=limit + 1, newest_first=False, id_above=after, more=("<=", after)
        )
        has_more_before = rows[0][messages.MORE] if rows else messages.exists("<=", after)
        return _window(rows[:limit][::-1], bool(has_more_before), len(rows) > limit)
    if around is not None:
        # Half the page on each side; near either end of the history the other side fills
        # the page, so a reader never gets a half-empty page while there is more to show.
        newer = messages.rows(limit=limit + 1, newest_first=False, id_from=around)
        older = messages.rows(limit=limit + 1, id_below=around)
        newer_taken = min(len(newer), max(limit - limit // 2, limit - len(older)))
        older_taken = min(len(older), limit - newer_taken)
        rows = newer[:newer_taken][::-1] + older[:older_taken]
        return _window(rows, len(older) > older_taken, len(newer) > newer_taken)
    if before is None:
        rows = messages.rows(limit=limit + 1)
        return _window(rows[:limit], len(rows) > limit, False)
    rows = messages.rows(limit=limit + 1, id_below=before, more=(">=", before))
    has_more_after = rows[0][messages.MORE] if rows else messages.exists(">=", before)
    return _window(rows[:limit], len(rows) > limit, bool(has_more_after))


def message_window_for(
    messages: ThreadMessages,
    reader: AbstractBaseUser,
    *,
    before: int | None = None,
    after: int | None = None,
    around: str | None = None,
    limit: int,
) -> MessageWindow:
    """`message_window` for the API's cursors, where `around` may also be "first_unread":
    the reader's oldest unread message, or the newest page when nothing is unread."""
    if around == "first_unread":
        around = first_unread_id(messages.thread, reader)
        if around is None:
            return message_window(messages, limit=limit)
    around_id = int(around) if around is not None else None
    return message_window(messages, before=before, after=after, around=around_id, limit=limit)


def _window(rows: list[tuple], has_more_before: bool, has_more_after: bool) -> MessageWindow:
    return MessageWindow([_api_message(row) for row in rows], has_more_before, has_more_after)
