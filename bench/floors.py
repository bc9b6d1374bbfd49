"""Benchmark floors: for each measured endpoint, a hand-written view that returns the same
rows with one raw SQL query and JsonResponse, with no authentication, no DRF and no ORM.
They are what "as fast as this server and database can answer" means in `bench/load.py`,
served by the same server in the same run. Mounted at /bench-floor/ by the benchmark's
own settings (bench/settings.py, bench/urls.py); the project's never mount them.
"""

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from threads.selectors import THREAD_PAGE_SQL


def _iso(value) -> str | None:
    if value is None:
        return None
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def thread_list(request: HttpRequest) -> JsonResponse:
    """The API's own thread-page SQL (threads.selectors.THREAD_PAGE_SQL), run raw: the
    floor is that query plus JSON, without authentication, DRF or the count."""
    sql = THREAD_PAGE_SQL.format(only_thread="")
    results = []
    for row in _rows(sql, [int(request.GET["user"]), 20, 0]):
        last = None
        if row[6] is not None:
            last = {
                "id": row[6],
                "thread": row[7],
                "sender": row[8],
                "sender_detail": {"id": row[8], "username": row[9]},
                "text": row[10],
                "created": _iso(row[11]),
                "is_read": bool(row[12]),
                "edited": _iso(row[13]),
                "deleted": _iso(row[14]),
            }
        results.append(
            {
                "id": row[0],
                "participants": [row[4]],
                "participants_detail": [{"id": row[4], "username": row[5]}],
                "created": _iso(row[2]),
                "updated": _iso(row[3]),
                "last_message": last,
                "unread_count": row[1],
            }
        )
    return JsonResponse({"results": results})


MESSAGES_SQL = """
SELECT m.id, m.thread_id, m.sender_id, u.username, m.text, m.created, m.is_read, m.edited, m.deleted
FROM threads_message m JOIN users_user u ON u.id = m.sender_id
WHERE m.thread_id = %s AND m.id < %s
ORDER BY m.id DESC
LIMIT 20
"""


def message_list(request: HttpRequest) -> JsonResponse:
    before = int(request.GET.get("before", 2**62))
    results = [
        {
            "id": row[0],
            "thread": row[1],
            "sender": row[2],
            "sender_detail": {"id": row[2], "username": row[3]},
            "text": row[4],
            "created": _iso(row[5]),
            "is_read": bool(row[6]),
            "edited": _iso(row[7]),
            "deleted": _iso(row[8]),
        }
        for row in _rows(MESSAGES_SQL, [int(request.GET["thread"]), before])
    ]
    return JsonResponse({"results": results})


@csrf_exempt
def message_post(request: HttpRequest) -> JsonResponse:
    thread, sender = int(request.GET["thread"]), int(request.GET["sender"])
    now = timezone.now()
    [(message_id,)] = _rows(
        "INSERT INTO threads_message (thread_id, sender_id, text, created, is_read) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
        [thread, sender, request.body.decode(), now, False],
    )
    return JsonResponse(
        {"id": message_id, "thread": thread, "sender": sender, "created": _iso(now)}, status=201
    )


def unread_total(request: HttpRequest) -> JsonResponse:
    [(total,)] = _rows(
        "SELECT COALESCE(SUM(unread_count), 0) FROM threads_participant WHERE user_id = %s",
        [int(request.GET["user"])],
    )
    return JsonResponse({"unread_count": total})


@csrf_exempt
def mark_read(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE threads_message SET is_read = %s WHERE thread_id = %s AND sender_id <> %s "
            "AND NOT is_read AND deleted IS NULL",
            [True, int(request.GET["thread"]), int(request.GET["user"])],
        )
        marked = cursor.rowcount
    return JsonResponse({"marked": marked})


urlpatterns = [
    path("threads/", thread_list),
    path("messages/", message_list),
    path("post/", message_post),
    path("unread/", unread_total),
    path("mark_read/", mark_read),
]
