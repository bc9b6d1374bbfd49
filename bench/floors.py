"""Benchmark floors: for each measured endpoint, a hand-written view that does what the
endpoint must, and nothing else, with one raw SQL query (and one more for the reactions
of a page's messages) and no DRF or ORM. They are what
"as fast as this server and database can answer" means in `bench/load.py`, served by the
same server in the same run (bench/settings.py mounts them at /bench-floor/; the project's
own settings and URLconf never do).

What every floor does, as the API must:

- authenticates: decodes the bearer JWT with PyJWT, with SimpleJWT's key and algorithm,
  verifying its signature and expiry and that it is an access token (401 otherwise);
- checks the requester's membership inside its one SQL query: the query joins
  `threads_participant` on the thread and the user id from the token, so a thread the
  requester is not in yields nothing (404);
- answers the API's JSON shape at the page size asked (`?limit=`, as the API's), encoded
  as the API's renderer encodes it (chat_project/renderers.py).

What it leaves out is the API's own machinery: DRF's request, negotiation, permissions,
throttles, serializers and paginator, and the user's row (the API reads it on every
request to refuse a deactivated account or a changed password).
"""

import json

import jwt
from django.db import connections, transaction
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework_simplejwt.settings import api_settings

from chat_project.renderers import json_bytes
from threads.queries import POST_MOVES_READ_STATE, POST_MOVES_READ_STATE_IN_TURN
from threads.selectors import attachment_row

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def _requester(request: HttpRequest) -> int | None:
    """The user id of the request's valid access token, or None."""
    scheme, _, raw = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme != "Bearer":
        return None
    try:
        payload = jwt.decode(raw, api_settings.SIGNING_KEY, algorithms=[api_settings.ALGORITHM])
        if payload.get(api_settings.TOKEN_TYPE_CLAIM) != "access":
            return None
        return int(payload[api_settings.USER_ID_CLAIM])
    except (jwt.InvalidTokenError, KeyError, TypeError, ValueError):
        return None


def _json(data, status: int = 200) -> HttpResponse:
    """`data` encoded as the API's renderer encodes it (chat_project/renderers.py)."""
    body = json_bytes(data)
    if body is None:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return HttpResponse(body, status=status, content_type="application/json")


UNAUTHORIZED = b'{"detail":"Given token not valid for any token type","code":"token_not_valid"}'
NOT_FOUND = b'{"detail":"No Thread matches the given query.","code":"not_found"}'


def _unauthorized() -> HttpResponse:
    return HttpResponse(UNAUTHORIZED, status=401, content_type="application/json")


def _not_found() -> HttpResponse:
    return HttpResponse(NOT_FOUND, status=404, content_type="application/json")


# The page size is written into the SQL (a checked integer), not bound: each page size is
# a statement of its own, planned once (see bench/settings.py).
def _limit(request: HttpRequest) -> int:
    try:
        return max(1, min(int(request.GET["limit"]), MAX_LIMIT))
    except (KeyError, ValueError):
        return DEFAULT_LIMIT


def _iso(value) -> str | None:
    """A datetime column as the API renders it (ISO 8601, UTC as Z): SQLite's driver gives
    naive UTC datetimes, psycopg aware ones."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.replace(" ", "T") + "Z"
    text = value.isoformat()
    if value.tzinfo is None:
        return text + "Z"
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _connection():
    """The floors' own connection (bench/settings.py), or the default one (the tests)."""
    return connections["floor" if "floor" in connections.settings else "default"]


def _rows(sql: str, params: list) -> list[tuple]:
    with _connection().cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _reactions(message_ids: list[int], user: int) -> dict[int, list[dict]]:
    """The reactions of the messages, as `user` sees them, by message id: one query."""
    if not message_ids:
        return {}
    placeholders = ", ".join(["%s"] * len(message_ids))
    rows = _rows(
        "SELECT message_id, emoji, user_id FROM threads_reaction "
        f"WHERE message_id IN ({placeholders}) ORDER BY message_id, id",
        message_ids,
    )
    summaries: dict[int, dict[str, dict]] = {}
    for message_id, emoji, reactor in rows:
        entry = summaries.setdefault(message_id, {}).setdefault(
            emoji, {"emoji": emoji, "count": 0, "me": False}
        )
        entry["count"] += 1
        entry["me"] = entry["me"] or reactor == user
    return {message_id: list(summary.values()) for message_id, summary in summaries.items()}


def _message(row, attachments: dict | None = None, reactions: dict | None = None) -> dict:
    """A message as the API returns it, from (id, thread, sender, username, text, created,
    is_read, edited, deleted, attachment_count) and the page's attachments and reactions by
    message."""
    return {
        "id": row[0],
        "thread": row[1],
        "sender": row[2],
        "sender_detail": {"id": row[2], "username": row[3]},
        "text": row[4],
        "created": _iso(row[5]),
        "is_read": bool(row[6]),
        "edited": _iso(row[7]),
        "deleted": _iso(row[8]),
        "attachments": (attachments or {}).get(row[0], []),
        "reactions": (reactions or {}).get(row[0], []),
    }


ATTACHMENTS_SQL = """
SELECT a.message_id, a.id, a.name, a.size, a.content_type, a.width, a.height, a.thumbnail
FROM threads_attachment a WHERE a.message_id IN ({ids}) ORDER BY a.message_id, a.position
"""


def _attachments(rows, *, count_at: int = 9) -> dict:
    """The attachments of the page's messages that have some (`attachment_count`, at
    `count_at` in each row), by message id, in one query; none for a page without files."""
    ids = [row[0] for row in rows if row[0] is not None and row[count_at]]
    if not ids:
        return {}
    found: dict = {}
    for message, *record in _rows(ATTACHMENTS_SQL.format(ids=", ".join(["%s"] * len(ids))), ids):
        names = ["id", "name", "size", "content_type", "width", "height", "thumbnail"]
        found.setdefault(message, []).append(attachment_row(dict(zip(names, record, strict=True))))
    return found


THREADS_SQL = """
SELECT p.thread_id, p.unread_count, t.created, t.updated,
       o.user_id, ou.username,
       m.id, m.thread_id, m.sender_id, su.username, m.text, m.created, m.is_read, m.edited,
       m.deleted, m.attachment_count,
       (SELECT me.username FROM users_user me WHERE me.id = p.user_id),
       (SELECT i.thread_count FROM threads_inbox i WHERE i.user_id = p.user_id)
FROM (
    SELECT thread_id, user_id, unread_count, updated FROM threads_participant
    WHERE user_id = %s ORDER BY updated DESC, thread_id DESC LIMIT %s
) p
JOIN threads_thread t ON t.id = p.thread_id
LEFT JOIN threads_participant o ON o.thread_id = p.thread_id AND o.user_id <> p.user_id
LEFT JOIN users_user ou ON ou.id = o.user_id
LEFT JOIN threads_message m ON m.id = t.last_message_id
LEFT JOIN users_user su ON su.id = m.sender_id
ORDER BY p.updated DESC, p.thread_id DESC
"""


def thread_list(request: HttpRequest) -> HttpResponse:
    """GET /api/threads/?limit=: the first page of the requester's threads (the API's
    thread-page query, written out again here, with the total read in the same query)."""
    user = _requester(request)
    if user is None:
        return _unauthorized()
    limit = _limit(request)
    rows = _rows(THREADS_SQL, [user, limit])
    reactions = _reactions([row[6] for row in rows if row[6] is not None], user)
    results = []
    attachments = _attachments([row[6:16] for row in rows])
    for row in rows:
        me = {"id": user, "username": row[16]}
        people = [me] if row[4] is None else [me, {"id": row[4], "username": row[5]}]
        if len(people) == 2 and people[1]["id"] < user:
            people.reverse()
        results.append(
            {
                "id": row[0],
                "participants": [person["id"] for person in people],
                "participants_detail": people,
                "created": _iso(row[2]),
                "updated": _iso(row[3]),
                "last_message": (
                    None if row[6] is None else _message(row[6:16], attachments, reactions)
                ),
                "unread_count": row[1],
            }
        )
    count = rows[0][17] if rows else 0
    following = None
    if count > limit:
        following = request.build_absolute_uri(f"{request.path}?limit={limit}&offset={limit}")
    return _json({"count": count, "next": following, "previous": None, "results": results})


MESSAGE_COLUMNS = (
    "m.id, m.thread_id, m.sender_id, u.username, m.text, m.created, m.is_read, m.edited, "
    "m.deleted, m.attachment_count"
)

FIRST_PAGE_SQL = f"""
SELECT {MESSAGE_COLUMNS}, t.message_count
FROM threads_participant p
JOIN threads_thread t ON t.id = p.thread_id
JOIN threads_message m ON m.thread_id = p.thread_id
JOIN users_user u ON u.id = m.sender_id
WHERE p.thread_id = %s AND p.user_id = %s
ORDER BY m.id DESC
LIMIT {{limit}}
"""

BEFORE_SQL = f"""
SELECT {MESSAGE_COLUMNS},
       EXISTS(SELECT 1 FROM threads_message n WHERE n.thread_id = %s AND n.id >= %s)
FROM threads_participant p
JOIN threads_message m ON m.thread_id = p.thread_id
JOIN users_user u ON u.id = m.sender_id
WHERE p.thread_id = %s AND p.user_id = %s AND m.id < %s
ORDER BY m.id DESC
LIMIT {{limit}}
"""


def message_list(request: HttpRequest, thread: int) -> HttpResponse:
    """GET /api/threads/<id>/messages/?limit=[&before=]: without a cursor the newest page
    with the total (the thread's counter) and the link to the next page; with `before=`,
    the keyset page and whether there is more on either side, in the same query."""
    user = _requester(request)
    if user is None:
        return _unauthorized()
    limit = _limit(request)
    if "before" not in request.GET:
        rows = _rows(FIRST_PAGE_SQL.format(limit=limit), [thread, user])
        if not rows:
            return _not_found()
        count = rows[0][10]
        following = None
        if count > limit:
            following = request.build_absolute_uri(f"{request.path}?limit={limit}&offset={limit}")
        attachments = _attachments(rows)
        reactions = _reactions([row[0] for row in rows], user)
        return _json(
            {
                "count": count,
                "next": following,
                "previous": None,
                "results": [_message(row, attachments, reactions) for row in rows],
            }
        )
    before = int(request.GET["before"])
    rows = _rows(BEFORE_SQL.format(limit=limit + 1), [thread, before, thread, user, before])
    if not rows:
        return _not_found()
    attachments = _attachments(rows[:limit])
    reactions = _reactions([row[0] for row in rows[:limit]], user)
    return _json(
        {
            "has_more_before": len(rows) > limit,
            "has_more_after": bool(rows[0][10]),
            "results": [_message(row, attachments, reactions) for row in rows[:limit]],
        }
    )


# What a post must change besides the message: the thread's last message, activity and
# count and both memberships' activity and unread counts (the thread list reads them),
# and the change-log entries, one per participant: each person's next cursor (their
# inbox row, locked until the commit), then the entries. On PostgreSQL in the post's one
# statement, as the API's; on SQLite in its transaction.
POST_POSTGRESQL = f"""
WITH message AS (
    INSERT INTO threads_message (thread_id, sender_id, text, created, is_read)
    SELECT p.thread_id, p.user_id, %(text)s, %(now)s, false FROM threads_participant p
    WHERE p.thread_id = %(thread)s AND p.user_id = %(user)s RETURNING id, created
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
    SELECT c.user_id, c.change_cursor, %(now)s, 'message.created', %(thread)s, m.id
    FROM cursors c, message m
)
SELECT id FROM message
"""
AFTER_INSERT_SQLITE = [
    *POST_MOVES_READ_STATE_IN_TURN,
    "INSERT INTO threads_inbox (user_id, thread_count, change_cursor, pruned_cursor) "
    "SELECT user_id, 0, 1, 0 FROM threads_participant WHERE thread_id = %(thread)s "
    "ON CONFLICT (user_id) DO UPDATE SET change_cursor = threads_inbox.change_cursor + 1",
    "INSERT INTO threads_change (user_id, cursor, created, kind, thread_id, message_id) "
    "SELECT i.user_id, i.change_cursor, %(now)s, 'message.created', %(thread)s, %(id)s "
    "FROM threads_inbox i JOIN threads_participant p ON p.user_id = i.user_id "
    "WHERE p.thread_id = %(thread)s",
]


@csrf_exempt
def message_post(request: HttpRequest, thread: int) -> HttpResponse:
    """POST /api/threads/<id>/messages: the message stored if the requester takes part in
    the thread (one INSERT ... SELECT from their membership), 404 otherwise, the thread's
    and memberships' read state moved and its entry in both participants' change logs, in
    the same transaction."""
    user = _requester(request)
    if user is None:
        return _unauthorized()
    text = json.loads(request.body)["text"]
    now = timezone.now()
    params = {"text": text, "now": now, "thread": thread, "user": user}
    connection = _connection()
    if connection.vendor == "postgresql":
        rows = _rows(POST_POSTGRESQL, params)
    else:
        with transaction.atomic(using=connection.alias):
            rows = _rows(
                "INSERT INTO threads_message (thread_id, sender_id, text, created, is_read) "
                "SELECT p.thread_id, p.user_id, %(text)s, %(now)s, false "
                "FROM threads_participant p "
                "WHERE p.thread_id = %(thread)s AND p.user_id = %(user)s RETURNING id",
                params,
            )
            if rows:
                with connection.cursor() as cursor:
                    for sql in AFTER_INSERT_SQLITE:
                        cursor.execute(sql, {**params, "id": rows[0][0], "created": now})
    if not rows:
        return _not_found()
    return _json(
        {
            "id": rows[0][0],
            "thread": thread,
            "sender": user,
            "text": text,
            "created": _iso(now),
            "is_read": False,
            "edited": None,
            "deleted": None,
            "attachments": [],
            "reactions": [],
        },
        status=201,
    )


def unread_total(request: HttpRequest) -> HttpResponse:
    """GET /api/threads/unread_count/: the sum of the requester's unread counters."""
    user = _requester(request)
    if user is None:
        return _unauthorized()
    [(total,)] = _rows(
        "SELECT COALESCE(SUM(unread_count), 0) FROM threads_participant WHERE user_id = %s",
        [user],
    )
    return _json({"unread_count": total})


_MARK_READ = (
    "UPDATE threads_message SET is_read = %(true)s WHERE thread_id = %(thread)s "
    "AND sender_id <> %(user)s AND NOT is_read AND deleted IS NULL AND EXISTS("
    "SELECT 1 FROM threads_participant p WHERE p.thread_id = %(thread)s AND p.user_id = %(user)s)"
)
_READ_ALL = (
    "UPDATE threads_participant SET unread_count = 0 "
    "WHERE thread_id = %(thread)s AND user_id = %(user)s"
)
# PostgreSQL: both in one statement (one round trip, atomic), as the API's post is.
_MARK_READ_POSTGRESQL = f"""
WITH marked AS ({_MARK_READ} RETURNING 1),
counter AS ({_READ_ALL} AND EXISTS(SELECT 1 FROM marked))
SELECT COUNT(*) FROM marked
"""


@csrf_exempt
def mark_read(request: HttpRequest, thread: int) -> HttpResponse:
    """PATCH /api/threads/<id>/mark_read: mark read what the other participant sent, if the
    requester takes part in the thread, and, when that marked anything, zero the
    requester's unread counter, atomically."""
    user = _requester(request)
    if user is None:
        return _unauthorized()
    params = {"true": True, "thread": thread, "user": user}
    connection = _connection()
    if connection.vendor == "postgresql":
        [(marked,)] = _rows(_MARK_READ_POSTGRESQL, params)
    else:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(_MARK_READ, params)
            marked = cursor.rowcount
            if marked:
                cursor.execute(_READ_ALL, params)
    return _json({"marked": marked})


urlpatterns = [
    path("threads/", thread_list),
    path("threads/<int:thread>/messages/", message_list),
    path("threads/<int:thread>/post/", message_post),
    path("threads/<int:thread>/mark_read/", mark_read),
    path("unread/", unread_total),
]
