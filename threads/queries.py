"""The threads app's hand-written SQL, and the only place in the app that formats SQL.

Each statement is a named function with typed parameters that returns plain records:
dicts keyed by column name, booleans real on every database, datetimes as the driver
hands them over (aware on PostgreSQL, naive UTC on SQLite: `selectors.api_datetime`
renders both).
The selectors shape them into the API's JSON; the services call the writes. Hand-written
where the ORM spent longer building a statement than the database spent running it (the
reads every request makes), or where one statement does what would otherwise take a
transaction of round trips (posting on PostgreSQL); figures in docs/performance.md.

Portable SQL (SQLite and PostgreSQL) unless a function says otherwise. Every value is a
bound parameter; the only text formatted into a statement is this module's own.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db import connection, transaction

from chat_project.rawsql import db_datetime, fetch_instance, model_columns
from threads.models import Attachment, Change, Message, Thread
from users.queries import blocked_sql

# --- Messages as records -----------------------------------------------------------------

# A message as every read returns it: the name each record carries, and its column. The
# message's table is `m`, its sender's `su`.
MESSAGE_COLUMNS = {
    "id": "m.id",
    "thread_id": "m.thread_id",
    "sender_id": "m.sender_id",
    "sender_username": "su.username",
    "text": "m.text",
    "created": "m.created",
    "is_read": "m.is_read",
    "edited": "m.edited",
    "deleted": "m.deleted",
    "attachment_count": "m.attachment_count",
}
_MESSAGE_SELECT = ", ".join(MESSAGE_COLUMNS.values())
_MESSAGE_WIDTH = len(MESSAGE_COLUMNS)
_MESSAGE_FROM = "threads_message m JOIN users_user su ON su.id = m.sender_id"


def _message_record(values: Sequence) -> dict:
    """A record of the MESSAGE_COLUMNS `values`, by name."""
    record = dict(zip(MESSAGE_COLUMNS, values, strict=True))
    record["is_read"] = bool(record["is_read"])
    record["attachment_count"] = record["attachment_count"] or 0
    return record


# --- Threads -----------------------------------------------------------------------------


def _member_join(thread: str) -> str:
    """The one spelling of membership in SQL: the requester's (`%(user)s`) side of the
    thread that the column `thread` names. Joined, it leaves out every thread that is
    not theirs."""
    return f"JOIN threads_participant me ON me.thread_id = {thread} AND me.user_id = %(user)s"


def thread_for(*, user_id: int, thread_id: int) -> Thread | None:
    """The thread `thread_id` if user `user_id` takes part in it, else None. It carries
    `reader_unread_count`, the requester's membership counter, read in the same query."""
    return fetch_instance(
        Thread,
        f"SELECT {model_columns(Thread, 't')}, me.unread_count "
        f"FROM threads_thread t {_member_join('t.id')} WHERE t.id = %(thread)s",
        {"user": user_id, "thread": thread_id},
        extra=("reader_unread_count",),
    )


# The requester's write access to a thread: whether they take part in it, the thread's
# last activity and pair key, its other participant, and whether that participant has
# blocked the requester. No row: not the requester's thread (or it is gone).
_WRITE_TARGET = f"""
SELECT t.id, t.updated, t.pair_key, other.user_id,
    {blocked_sql(blocker="other.user_id", blocked="%(user)s")} AS blocked
FROM threads_thread t
{_member_join("t.id")}
LEFT JOIN threads_participant other ON other.thread_id = t.id AND other.user_id <> %(user)s
WHERE t.id = %(thread)s
"""


_WRITE_TARGET_LOCKED = _WRITE_TARGET + "FOR UPDATE OF t"


@dataclass(frozen=True)
class WriteTarget:
    pair_key: str
    other_id: int | None  # None: the other participant's account was removed
    blocked: bool  # the other participant has blocked the requester


def write_target(*, user_id: int, thread_id: int, lock: bool = False) -> WriteTarget | None:
    """Whether user `user_id` may write in thread `thread_id` (None: not their thread).
    With `lock`, also take the thread's row lock (as `services.counters.lock_thread` does)
    for the rest of the transaction, if it is theirs. The blocking rule is read as it was
    before any wait for that lock; anything read after the lock must be read afresh."""
    sql = (
        _WRITE_TARGET_LOCKED
        if lock and connection.features.has_select_for_update_of
        else _WRITE_TARGET
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"user": user_id, "thread": thread_id})
        row = cursor.fetchone()
    if row is None:
        return None
    _, _, pair_key, other_id, blocked = row
    return WriteTarget(pair_key=pair_key, other_id=other_id, blocked=bool(blocked))


# One range of the (user, -updated) membership index, then each of its threads joined by
# key to the thread, the other participant and the last message. The range is a subquery
# of its own so that PostgreSQL plans the joins for the page's rows only: with the ORDER BY
# and LIMIT over the whole join it spent longer planning the statement (which
# it does on each request, for a custom plan) than running it (docs/performance.md).
_THREAD_PAGE = f"""
SELECT p.thread_id, p.unread_count, t.created, t.updated, o.user_id, ou.username,
    (SELECT i.thread_count FROM threads_inbox i WHERE i.user_id = p.user_id),
    {_MESSAGE_SELECT}
FROM (
    SELECT thread_id, user_id, unread_count, updated FROM threads_participant
    WHERE user_id = %(user)s {{only_thread}}
    ORDER BY updated DESC, thread_id DESC
    LIMIT %(limit)s OFFSET %(offset)s
) p
JOIN threads_thread t ON t.id = p.thread_id
LEFT JOIN threads_participant o ON o.thread_id = p.thread_id AND o.user_id <> p.user_id
LEFT JOIN users_user ou ON ou.id = o.user_id
LEFT JOIN threads_message m ON m.id = t.last_message_id
LEFT JOIN users_user su ON su.id = m.sender_id
ORDER BY p.updated DESC, p.thread_id DESC
"""
THREAD_PAGE_SQL = _THREAD_PAGE.format(only_thread="")
_ONE_THREAD_SQL = _THREAD_PAGE.format(only_thread="AND thread_id = %(thread)s")


def thread_page(
    *, user_id: int, limit: int, offset: int = 0, thread_id: int | None = None
) -> list[dict]:
    """A page of the user's threads, most recent activity first, as records: `id`,
    `unread_count`, `created`, `updated`, `other_id` and `other_username` (None when the
    other participant is gone), `last_message` (a message record or None), and the user's
    `thread_count` (how many threads they have in all). With `thread_id`, just that
    thread (an empty list if it is not the user's)."""
    params = {"user": user_id, "limit": limit, "offset": offset, "thread": thread_id}
    with connection.cursor() as cursor:
        cursor.execute(THREAD_PAGE_SQL if thread_id is None else _ONE_THREAD_SQL, params)
        rows = cursor.fetchall()
    return [
        {
            "id": row[0],
            "unread_count": row[1],
            "created": row[2],
            "updated": row[3],
            "other_id": row[4],
            "other_username": row[5],
            "thread_count": row[6] or 0,
            "last_message": None if row[7] is None else _message_record(row[7:]),
        }
        for row in rows
    ]


def thread_count(*, user_id: int) -> int:
    """How many threads the user takes part in (their inbox's counter)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT thread_count FROM threads_inbox WHERE user_id = %s", [user_id])
        row = cursor.fetchone()
    return row[0] if row else 0


def messages_by_id(message_ids: Sequence[int]) -> list[dict]:
    """The records of the messages `message_ids` that still exist (in no order)."""
    if not message_ids:
        return []
    among, params = _among("m.id", message_ids)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_MESSAGE_SELECT} FROM {_MESSAGE_FROM} WHERE {among}", params)
        return [_message_record(row) for row in cursor.fetchall()]


def thread_messages_delete(*, thread_id: int) -> None:
    """Delete every message of the thread, and their reactions, in a statement each. Left
    to the ORM's cascade, a thread's messages are fetched and deleted a batch at a time
    (its `last_message` points at one of them), with every writer to the thread waiting
    meanwhile."""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM threads_reaction WHERE message_id IN "
            "(SELECT id FROM threads_message WHERE thread_id = %s)",
            [thread_id],
        )
        cursor.execute("DELETE FROM threads_message WHERE thread_id = %s", [thread_id])


# --- A thread's messages -----------------------------------------------------------------


def text_pattern(search: str) -> str:
    """The LIKE pattern of messages whose text contains `search`."""
    return f"%{connection.ops.prep_for_like_query(search)}%"


def _selection(alias: str, pattern: str | None) -> str:
    """The messages a read selects: the thread's (`%(thread)s`), or, with a `pattern`, its
    live messages whose text contains it, case-insensitively. UPPER(...) LIKE UPPER(...)
    is what Django's icontains compiles to; on PostgreSQL the trigram index on
    UPPER(text) serves it."""
    where = f"{alias}.thread_id = %(thread)s"
    if pattern is not None:
        where += f" AND {_text_matches(alias)}"
    return where


def _text_matches(alias: str) -> str:
    return f"{alias}.deleted IS NULL AND UPPER({alias}.text) LIKE UPPER(%(pattern)s) ESCAPE '\\'"


# The only comparison operators that reach the SQL text.
_OPERATORS = {">=": ">=", "<=": "<=", "<": "<", ">": ">"}


def thread_messages(
    *,
    thread_id: int,
    pattern: str | None,
    limit: int,
    offset: int = 0,
    newest_first: bool = True,
    id_bound: tuple[str, int] | None = None,
    more: tuple[str, int] | None = None,
) -> tuple[list[dict], bool | None]:
    """A page of the thread's messages (only those matching `pattern`, if given) as
    records, newest or oldest first, optionally only those whose id compares to a bound,
    `id_bound` = (operator, id). With `more` = (">=" or "<=", id), also whether any message
    of the same selection lies on that side of that id, in the same query (else None)."""
    params = {"thread": thread_id, "pattern": pattern, "limit": limit, "offset": offset}
    where = _selection("m", pattern)
    if id_bound is not None:
        operator, params["bound"] = id_bound
        where += f" AND m.id {_OPERATORS[operator]} %(bound)s"
    select = _MESSAGE_SELECT
    if more is not None:
        operator, params["more"] = more
        select += (
            f", EXISTS(SELECT 1 FROM threads_message n WHERE {_selection('n', pattern)} "
            f"AND n.id {_OPERATORS[operator]} %(more)s)"
        )
    order = "DESC" if newest_first else "ASC"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {select} FROM {_MESSAGE_FROM} WHERE {where} "
            f"ORDER BY m.id {order} LIMIT %(limit)s OFFSET %(offset)s",
            params,
        )
        rows = cursor.fetchall()
    more_found = bool(rows[0][_MESSAGE_WIDTH]) if more is not None and rows else None
    return [_message_record(row[:_MESSAGE_WIDTH]) for row in rows], more_found


def thread_messages_exist(
    *, thread_id: int, pattern: str | None, operator: str, message_id: int
) -> bool:
    """Whether any message of the selection has an id that compares to `message_id`."""
    params = {"thread": thread_id, "pattern": pattern, "id": message_id}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT EXISTS(SELECT 1 FROM threads_message m WHERE {_selection('m', pattern)} "
            f"AND m.id {_OPERATORS[operator]} %(id)s)",
            params,
        )
        return bool(cursor.fetchone()[0])


def thread_messages_count(*, thread_id: int, pattern: str) -> int:
    """How many of the thread's live messages match `pattern`."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM threads_message m WHERE {_selection('m', pattern)}",
            {"thread": thread_id, "pattern": pattern},
        )
        return cursor.fetchone()[0]


# --- Messages across the requester's threads ------------------------------------------------


def _theirs(pattern: str | None) -> str:
    """Narrows messages `m` to the requester's (and to those matching `pattern`, if
    given): a join and its WHERE clause."""
    narrowing = _member_join("m.thread_id")
    if pattern is not None:
        narrowing += f" WHERE {_text_matches('m')}"
    return narrowing


# The newest messages of all the user's threads, without reading the rest. The newest
# `reach` (offset + limit) of them lie among the newest `reach` of each of the `reach`
# threads whose last message is the newest: each of those threads holds a message newer
# than every message of the threads after them. So the page reads at most reach x reach
# rows through the (thread, -id) index, however long the history is and wherever its ids
# fall among everyone else's. (The plain ORDER BY m.id walked every message of the site
# newer than the user's own; `+ 0` keeps the planner from doing the same with the
# threads' last-message index.) PostgreSQL takes each thread's newest `reach` with
# LATERAL; SQLite, which has none, joins each thread's messages from the id of its
# `reach`-th newest on.
_RECENT_THREADS = """
    SELECT t.id FROM threads_participant me JOIN threads_thread t ON t.id = me.thread_id
    WHERE me.user_id = %(user)s AND t.last_message_id IS NOT NULL
    ORDER BY t.last_message_id + 0 DESC LIMIT %(reach)s
"""
_MESSAGE_OWN_COLUMNS = ", ".join(
    column.replace("m.", "x.") for column in MESSAGE_COLUMNS.values() if column.startswith("m.")
)
_NEWEST_OF_THE_USER = {
    "postgresql": f"""
SELECT {_MESSAGE_SELECT}
FROM ({_RECENT_THREADS}) recent
CROSS JOIN LATERAL (
    SELECT {_MESSAGE_OWN_COLUMNS} FROM threads_message x
    WHERE x.thread_id = recent.id ORDER BY x.id DESC LIMIT %(reach)s
) m
JOIN users_user su ON su.id = m.sender_id
ORDER BY m.id DESC LIMIT %(limit)s OFFSET %(offset)s
""",
    "sqlite": f"""
SELECT {_MESSAGE_SELECT}
FROM (
    SELECT recent.id, COALESCE((
        SELECT x.id FROM threads_message x WHERE x.thread_id = recent.id
        ORDER BY x.id DESC LIMIT 1 OFFSET %(reach)s - 1
    ), 0) AS oldest
    FROM ({_RECENT_THREADS}) recent
) recent
JOIN threads_message m ON m.thread_id = recent.id AND m.id >= recent.oldest
JOIN users_user su ON su.id = m.sender_id
ORDER BY m.id DESC LIMIT %(limit)s OFFSET %(offset)s
""",
}


def user_messages(*, user_id: int, pattern: str | None, limit: int, offset: int) -> list[dict]:
    """A page of the messages in all the user's threads (only those matching `pattern`, if
    given), newest first, as records."""
    sql = _NEWEST_OF_THE_USER.get(connection.vendor) if pattern is None else None
    if sql is None:
        sql = (
            f"SELECT {_MESSAGE_SELECT} FROM {_MESSAGE_FROM} {_theirs(pattern)} "
            "ORDER BY m.id DESC LIMIT %(limit)s OFFSET %(offset)s"
        )
    params = {"user": user_id, "pattern": pattern, "limit": limit, "offset": offset}
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "reach": offset + limit})
        return [_message_record(row) for row in cursor.fetchall()]


def user_messages_count(*, user_id: int, pattern: str | None) -> int:
    """How many messages the user's threads hold (only those matching `pattern`, if
    given). Without a pattern, the sum of the threads' exact counters: no message is read."""
    if pattern is None:
        sql = (
            "SELECT COALESCE(SUM(t.message_count), 0) FROM threads_participant me "
            "JOIN threads_thread t ON t.id = me.thread_id WHERE me.user_id = %(user)s"
        )
    else:
        sql = f"SELECT COUNT(*) FROM threads_message m {_theirs(pattern)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, {"user": user_id, "pattern": pattern})
        return cursor.fetchone()[0]


# --- Reactions ---------------------------------------------------------------------------


def message_reactions(*, message_ids: Sequence[int]) -> list[dict]:
    """The reactions on the messages `message_ids`, as records `message_id`, `emoji` and
    `user_id`, message by message, each message's in order of first use: one range of
    `reaction_message_idx` per message."""
    where, params = _among("r.message_id", message_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.message_id, r.emoji, r.user_id FROM threads_reaction r WHERE {where} "
            "ORDER BY r.message_id, r.id",
            params,
        )
        rows = cursor.fetchall()
    return [{"message_id": row[0], "emoji": row[1], "user_id": row[2]} for row in rows]


@dataclass(frozen=True)
class ReactionTarget:
    """A message about to be reacted to: whether it is deleted, and its reactions as
    records `emoji` and `user_id`, in order of first use."""

    deleted: bool
    reactions: list[dict]


# The message, and its reactions, one row per reaction (a row of NULLs without any).
_REACTION_TARGET = """
SELECT m.deleted, r.emoji, r.user_id
FROM threads_message m
LEFT JOIN threads_reaction r ON r.message_id = m.id
WHERE m.id = %(message)s AND m.thread_id = %(thread)s
ORDER BY r.id
"""
_REACTION_TARGET_LOCKED = _REACTION_TARGET + "FOR UPDATE OF m"


def reaction_target(*, thread_id: int, message_id: int) -> ReactionTarget | None:
    """Message `message_id` of thread `thread_id` and its reactions (None: no such message
    there), its row locked for the rest of the transaction (PostgreSQL), so an edit or a
    delete of the message waits for the reaction's transaction, or it for theirs.

    The caller holds the thread's lock, which every writer of reactions takes first: the
    reactions read here cannot change until the caller commits."""
    sql = (
        _REACTION_TARGET_LOCKED
        if connection.features.has_select_for_update_of
        else _REACTION_TARGET
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"thread": thread_id, "message": message_id})
        rows = cursor.fetchall()
    if not rows:
        return None
    reactions = [
        {"emoji": emoji, "user_id": user_id} for _, emoji, user_id in rows if emoji is not None
    ]
    return ReactionTarget(deleted=rows[0][0] is not None, reactions=reactions)


def reaction_insert(*, message_id: int, user_id: int, emoji: str, now: datetime) -> bool:
    """Store the reaction unless it exists; whether it was stored. A reaction that arrives
    twice at once is stored once, by the unique constraint, without an error for the
    second (which the services' lock already makes wait for the first)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO threads_reaction (message_id, user_id, emoji, created) "
            "VALUES (%(message)s, %(user)s, %(emoji)s, %(created)s) "
            "ON CONFLICT (message_id, user_id, emoji) DO NOTHING RETURNING id",
            {
                "message": message_id,
                "user": user_id,
                "emoji": emoji,
                "created": connection.ops.adapt_datetimefield_value(now),
            },
        )
        return cursor.fetchone() is not None


# --- Posting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Posted:
    """What a post did. `target` None: the sender does not take part in the thread (or it
    is gone). `message_id` None with a target: nothing was stored, because the other
    participant blocks the sender (`target.blocked`) or the client_id is taken."""

    target: WriteTarget | None
    message_id: int | None = None
    created: datetime | None = None
    # The cursor of the message's entry in each participant's change log.
    cursors: dict[int, int] | None = None


# PostgreSQL: what a stored message moves, as two clauses of a WITH whose `message`
# holds its id and created time: the thread's last message, activity and count, and both
# memberships' activity and unread counts (the sender's own stays).
POST_MOVES_READ_STATE = """
thread AS (
    UPDATE threads_thread t SET updated = m.created, last_message_id = m.id,
        message_count = t.message_count + 1
    FROM message m WHERE t.id = %(thread)s
),
members AS (
    UPDATE threads_participant p SET updated = m.created,
        unread_count = p.unread_count + CASE WHEN p.user_id = %(user)s THEN 0 ELSE 1 END
    FROM message m WHERE p.thread_id = %(thread)s
)"""


# The same, as statements run in turn after the message `%(id)s`, created at
# `%(created)s`, is stored (SQLite, which has no writes inside WITH).
POST_MOVES_READ_STATE_IN_TURN = [
    "UPDATE threads_thread SET updated = %(created)s, last_message_id = %(id)s, "
    "message_count = message_count + 1 WHERE id = %(thread)s",
    "UPDATE threads_participant SET updated = %(created)s, unread_count = "
    "unread_count + CASE WHEN user_id = %(user)s THEN 0 ELSE 1 END "
    "WHERE thread_id = %(thread)s",
]


# PostgreSQL: the whole post in one statement, its change-log entries included, so one
# round trip, atomic without a transaction block of its own. The thread's row lock (FOR
# UPDATE) is taken before the insert reads `target`; a post that waited for it sees the
# thread as the post before it left it, and the updates apply to that newest row. A
# retry whose client_id is taken inserts nothing (ON CONFLICT), so nothing moves or is
# logged. `created` is never earlier than the thread's last activity, so time order
# follows id order. The participants' inbox rows are locked last, in id order, as
# `changes_append` locks them.
_POST_POSTGRESQL = f"""
WITH target AS ({_WRITE_TARGET} FOR UPDATE OF t),
message AS (
    INSERT INTO threads_message (thread_id, sender_id, text, created, is_read, client_id)
    SELECT target.id, %(user)s, %(text)s, GREATEST(%(now)s, target.updated), false,
        %(client_id)s
    FROM target WHERE NOT target.blocked
    ON CONFLICT (thread_id, sender_id, client_id) WHERE client_id IS NOT NULL DO NOTHING
    RETURNING id, created
),
{POST_MOVES_READ_STATE},
cursors AS (
    INSERT INTO threads_inbox (user_id, thread_count, change_cursor, pruned_cursor)
    SELECT p.user_id, 0, 1, 0 FROM threads_participant p, message m
    WHERE p.thread_id = %(thread)s ORDER BY p.user_id
    ON CONFLICT (user_id) DO UPDATE SET change_cursor = threads_inbox.change_cursor + 1
    RETURNING user_id, change_cursor
),
logged AS (
    INSERT INTO threads_change (user_id, cursor, created, kind, thread_id, message_id)
    SELECT c.user_id, c.change_cursor, m.created, %(kind)s, %(thread)s, m.id
    FROM cursors c, message m
    RETURNING user_id, cursor
)
SELECT target.pair_key, target.user_id, target.blocked, m.id, m.created,
    ARRAY(SELECT ARRAY[user_id, cursor] FROM logged)
FROM (SELECT 1) AS one LEFT JOIN target ON true LEFT JOIN message m ON true
"""


def message_post(
    *,
    thread_id: int,
    sender_id: int,
    text: str,
    now: datetime,
    client_id: UUID | None,
    kind: str,
) -> Posted:
    """Store a message from `sender_id` in their thread `thread_id`, move the thread's and
    both participants' read state and append its `kind` entry to both participants' change
    logs, atomically (their events are read with the message). Posts to one thread take
    turns on the thread's row lock, so ids, `created` times and the thread's last activity
    agree."""
    params = {
        "kind": kind,
        "thread": thread_id,
        "user": sender_id,
        "text": text,
        "now": connection.ops.adapt_datetimefield_value(now),
        "client_id": Message._meta.get_field("client_id").get_db_prep_value(client_id, connection),
    }
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_POST_POSTGRESQL, params)
            pair_key, other_id, blocked, message_id, created, logged = cursor.fetchone()
        if pair_key is None:
            return Posted(target=None)
        target = WriteTarget(pair_key=pair_key, other_id=other_id, blocked=blocked)
        return Posted(target=target, message_id=message_id, created=created, cursors=dict(logged))
    with transaction.atomic():
        return _post_in_turn(params, now)


def _post_in_turn(params: dict, now: datetime) -> Posted:
    """SQLite, which has no writes inside WITH: the same steps in turn, in the caller's
    transaction. IMMEDIATE transactions already run one at a time, and statements run
    in-process, so the extra statements cost no round trips."""
    with connection.cursor() as cursor:
        cursor.execute(_WRITE_TARGET, params)
        row = cursor.fetchone()
        if row is None:
            return Posted(target=None)
        _, updated, pair_key, other_id, blocked = row
        target = WriteTarget(pair_key=pair_key, other_id=other_id, blocked=bool(blocked))
        if target.blocked:
            return Posted(target=target)
        if params["client_id"] is not None:
            cursor.execute(
                "SELECT 1 FROM threads_message WHERE thread_id = %(thread)s "
                "AND sender_id = %(user)s AND client_id = %(client_id)s",
                params,
            )
            if cursor.fetchone():
                return Posted(target=target)
        created = max(now, db_datetime(updated))
        values = {**params, "created": connection.ops.adapt_datetimefield_value(created)}
        cursor.execute(
            "INSERT INTO threads_message "
            "(thread_id, sender_id, text, created, is_read, client_id) "
            "VALUES (%(thread)s, %(user)s, %(text)s, %(created)s, false, %(client_id)s) "
            "RETURNING id",
            values,
        )
        (values["id"],) = cursor.fetchone()
        for sql in POST_MOVES_READ_STATE_IN_TURN:
            cursor.execute(sql, values)
    people = Thread.participant_ids_in(target.pair_key)
    entries = [
        ChangeEntry(user_id, params["kind"], params["thread"], values["id"], None)
        for user_id in people
    ]
    cursors = changes_append(entries=entries, now=created)
    return Posted(
        target=target,
        message_id=values["id"],
        created=created,
        cursors=dict(zip(people, cursors, strict=True)),
    )


# --- Attachments -----------------------------------------------------------------------

# An attachment as every read returns it (the table is `a`).
ATTACHMENT_COLUMNS = {
    "id": "a.id",
    "message_id": "a.message_id",
    "position": "a.position",
    "name": "a.name",
    "size": "a.size",
    "content_type": "a.content_type",
    "width": "a.width",
    "height": "a.height",
    "thumbnail": "a.thumbnail",
}
_ATTACHMENT_SELECT = ", ".join(ATTACHMENT_COLUMNS.values())


def _attachment_record(values: Sequence) -> dict:
    return dict(zip(ATTACHMENT_COLUMNS, values, strict=True))


def _among(column: str, ids: Sequence[int]) -> tuple[str, list]:
    """`column` is one of `ids`, as a condition and its parameters. On PostgreSQL the ids
    go as one array, so the statement keeps one shape (prepared once) whatever the page's
    size; SQLite, which has no arrays, gets a placeholder per id."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::bigint[])", [list(ids)]
    return f"{column} IN ({_placeholders(ids)})", list(ids)


def _placeholders(values: Sequence) -> str:
    """`%s, %s, ...`: one bound parameter per value, for an IN list."""
    return ", ".join(["%s"] * len(values))


def attachments_of(message_ids: Sequence[int]) -> dict[int, list[dict]]:
    """The attachments of these messages, as records in each message's order, by message
    id: one query for a whole page."""
    if not message_ids:
        return {}
    among, params = _among("a.message_id", message_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {_ATTACHMENT_SELECT} FROM threads_attachment a WHERE {among} "
            "ORDER BY a.message_id, a.position, a.id",
            params,
        )
        rows = cursor.fetchall()
    found: dict[int, list[dict]] = {}
    for row in rows:
        record = _attachment_record(row)
        found.setdefault(record["message_id"], []).append(record)
    return found


def attachments_claim(
    *, message_id: int, thread_id: int, sender_id: int, attachment_ids: Sequence[int]
) -> list[dict]:
    """Make these attachments the message's, in the order given, if each was uploaded by
    the sender into the thread and belongs to no message (or already to this one). One
    conditional statement: of two messages claiming one attachment at once, the second
    waits for the first's row lock, then finds it taken. Returns the records of the
    attachments claimed (fewer than asked: some could not be)."""
    if not attachment_ids:
        return []
    ids = list(attachment_ids)
    order = " ".join(["WHEN %s THEN %s"] * len(ids))
    params = [message_id]
    for position, attachment_id in enumerate(ids):
        params += [attachment_id, position]
    params += [thread_id, sender_id, message_id, *ids]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE threads_attachment SET message_id = %s, position = CASE id {order} END "
            "WHERE thread_id = %s AND uploader_id = %s "
            "AND (message_id IS NULL OR message_id = %s) "
            f"AND id IN ({_placeholders(ids)}) "
            f"RETURNING {_ATTACHMENT_SELECT.replace('a.', '')}",
            params,
        )
        records = [_attachment_record(row) for row in cursor.fetchall()]
    return sorted(records, key=lambda record: record["position"])


def attachments_taken(*, thread_id: int, sender_id: int, attachment_ids: Sequence[int]) -> bool:
    """Whether any of these uploads of the sender's in the thread belongs to a message."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS(SELECT 1 FROM threads_attachment WHERE thread_id = %s "
            f"AND uploader_id = %s AND message_id IS NOT NULL "
            f"AND id IN ({_placeholders(attachment_ids)}))",
            [thread_id, sender_id, *attachment_ids],
        )
        return bool(cursor.fetchone()[0])


def _files_deleted(where: str, params: Sequence) -> list[tuple[str, str]]:
    """Delete the attachments `where` selects; the names of their stored files, (file,
    thumbnail) per attachment ("" for no thumbnail)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM threads_attachment WHERE {where} RETURNING file, thumbnail", params
        )
        return [(file, thumbnail) for file, thumbnail in cursor.fetchall()]


def message_attachments_delete(
    *, message_id: int, keep: Sequence[int] = ()
) -> list[tuple[str, str]]:
    """Delete the message's attachments (but those in `keep`); their files' names."""
    where = "message_id = %s"
    if keep:
        where += f" AND id NOT IN ({_placeholders(keep)})"
    return _files_deleted(where, [message_id, *keep])


def attachments_delete(*, attachment_ids: Sequence[int]) -> list[tuple[str, str]]:
    """Delete the attachments `attachment_ids`; their files' names."""
    if not attachment_ids:
        return []
    return _files_deleted(f"id IN ({_placeholders(attachment_ids)})", list(attachment_ids))


def thread_attachments_delete(*, thread_id: int) -> list[tuple[str, str]]:
    """Delete every attachment of the thread, used or not; their files' names."""
    return _files_deleted("thread_id = %s", [thread_id])


def unused_attachments_delete(
    *, created_before: datetime | None = None, uploader_id: int | None = None, limit: int
) -> list[tuple[str, str]]:
    """Delete up to `limit` uploads that belong to no message, made before
    `created_before` and/or by `uploader_id`; their files' names. A message that
    claims one at the same moment either wins (it is not deleted) or finds it gone."""
    conditions, params = ["message_id IS NULL"], []
    if created_before is not None:
        conditions.append("created < %s")
        params.append(connection.ops.adapt_datetimefield_value(created_before))
    if uploader_id is not None:
        conditions.append("uploader_id = %s")
        params.append(uploader_id)
    chosen = " AND ".join(conditions)
    return _files_deleted(
        f"{chosen} AND id IN (SELECT id FROM threads_attachment WHERE {chosen} "
        "ORDER BY id LIMIT %s)",
        [*params, *params, limit],
    )


def attachment_for(*, user_id: int, attachment_id: int) -> Attachment | None:
    """The attachment if user `user_id` takes part in its thread and it was sent with a
    message or is their own upload, else None: an upload not sent yet is a draft, its
    uploader's alone."""
    return fetch_instance(
        Attachment,
        f"SELECT {model_columns(Attachment, 'a')} FROM threads_attachment a "
        f"{_member_join('a.thread_id')} WHERE a.id = %(attachment)s "
        "AND (a.message_id IS NOT NULL OR a.uploader_id = %(user)s)",
        {"user": user_id, "attachment": attachment_id},
    )


# --- The change log ----------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeEntry:
    """An entry to append to a person's change log (threads.models.Change)."""

    user_id: int
    kind: str
    thread_id: int | None
    message_id: int | None
    event: dict | None


# Each person's next cursors: their inbox row (made if missing) moves by as many changes
# as are appended for them, under its row lock until the transaction ends.
_CURSORS_TAKE = """
INSERT INTO threads_inbox (user_id, thread_count, change_cursor, pruned_cursor)
VALUES {values}
ON CONFLICT (user_id) DO UPDATE SET change_cursor =
    threads_inbox.change_cursor + excluded.change_cursor
RETURNING user_id, change_cursor
"""


def changes_append(*, entries: Sequence[ChangeEntry], now: datetime) -> list[int]:
    """Append `entries` to their people's change logs, in that order, in the current
    transaction; returns each one's cursor.

    The people's inbox rows are locked in id order (the services' lock order, see
    services.counters), so one person's changes commit in the order of their cursors:
    a client that has seen cursor N has seen every change before it."""
    counts = Counter(entry.user_id for entry in entries)
    people = sorted(counts)
    with connection.cursor() as cursor:
        cursor.execute(
            _CURSORS_TAKE.format(values=", ".join(["(%s, 0, %s, 0)"] * len(people))),
            [value for user_id in people for value in (user_id, counts[user_id])],
        )
        newest = dict(cursor.fetchall())
        taken = {user_id: newest[user_id] - counts[user_id] for user_id in people}
        cursors, values = [], []
        created = connection.ops.adapt_datetimefield_value(now)
        event_field = Change._meta.get_field("event")
        for entry in entries:
            taken[entry.user_id] += 1
            cursors.append(taken[entry.user_id])
            values += [
                entry.user_id,
                taken[entry.user_id],
                created,
                entry.kind,
                entry.thread_id,
                entry.message_id,
                event_field.get_db_prep_value(entry.event, connection),
            ]
        cursor.execute(
            "INSERT INTO threads_change "
            "(user_id, cursor, created, kind, thread_id, message_id, event) VALUES "
            + ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(entries)),
            values,
        )
    return cursors
