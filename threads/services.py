"""Writes. One keyword-only, atomic function per change, so every path that changes
threads (REST today, the admin and WebSocket later) behaves the same.

The denormalised read state (a thread's `last_message` and `message_count`, each
participant's `updated` and `unread_count`) changes in the same transaction as the rows it
describes, with relative updates (`F() + 1`) that stay exact when writers run concurrently.
Every writer that moves a counter or deletes messages first takes the thread's row lock
(`_lock_thread`), so writers to one thread take turns instead of deadlocking on rows they
lock in different orders (a thread's delete removes participants before messages, a
mark-read locks messages before its participant row).
"""

from uuid import UUID

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from chat_project.rawsql import db_datetime
from threads.models import Message, Participant, Thread
from users.models import Block, User
from users.selectors import is_blocked


class MessageDeleted(Exception):
    """The message was deleted; it can no longer be edited."""


class ClientIdReused(Exception):
    """The client's `client_id` already names a different message of theirs."""


@transaction.atomic
def thread_get_or_create(
    *, requester: AbstractBaseUser, other: AbstractBaseUser
) -> tuple[Thread, bool]:
    """The one thread between `requester` and `other`, creating it if needed.

    Returns `(thread, created)`. Two concurrent calls for the same pair race on the unique
    `pair_key`; the loser's insert fails inside a savepoint and it returns the winner's
    thread, so callers never see two threads or an IntegrityError. Someone `other` has
    blocked cannot start a thread with them (PermissionDenied); an existing thread is still
    theirs to read.
    """
    if requester.pk == other.pk:
        raise ValueError("A thread needs two distinct participants.")
    pair_key = Thread.pair_key_for(requester.pk, other.pk)
    existing = Thread.objects.filter(pair_key=pair_key).first()
    if existing is not None:
        return existing, False
    if is_blocked(blocker_id=other.pk, blocked_id=requester.pk):
        raise PermissionDenied("You cannot start a thread with this user: they have blocked you.")
    try:
        with transaction.atomic():
            now = timezone.now()
            thread = Thread.objects.create(pair_key=pair_key, created=now, updated=now)
    except IntegrityError:
        return Thread.objects.get(pair_key=pair_key), False
    Participant.objects.bulk_create(
        [Participant(thread=thread, user=user, updated=now) for user in (requester, other)]
    )
    _count_threads(user_ids=[requester.pk, other.pk], change=+1)
    return thread, True


@transaction.atomic
def thread_delete(*, thread: Thread) -> None:
    """Delete a thread and all its messages, for both participants."""
    # Lock first: a message being posted right now either lands before (and is deleted
    # with the rest) or finds the thread gone, never one that references a deleted thread.
    _lock_thread(thread.pk)
    user_ids = list(Participant.objects.filter(thread=thread).values_list("user_id", flat=True))
    thread.delete()
    _count_threads(user_ids=user_ids, change=-1)


def _count_threads(*, user_ids: list[int], change: int) -> None:
    """Move the thread counters of `user_ids`, one row at a time in id order: concurrent
    creates and deletes that share a user then queue instead of deadlocking."""
    for user_id in sorted(user_ids):
        User.objects.filter(pk=user_id).update(thread_count=F("thread_count") + change)


def message_send(
    *, thread_id: int, sender: AbstractBaseUser, text: str, client_id: UUID | None = None
) -> tuple[Message, bool]:
    """Post `text` from `sender` into their thread `thread_id`. Returns `(message, created)`.

    Http404 unless `sender` takes part in the thread (it may also have been deleted
    meanwhile); PermissionDenied when the other participant has blocked the sender.
    With a `client_id`, posting is idempotent: a retry of the same message (same sender,
    thread and client_id) returns the message first stored, even when the retries run
    concurrently; reusing the id for a different text raises ClientIdReused.

    Atomic either way: on PostgreSQL the whole post is one statement (see POST_SQL),
    elsewhere a transaction. Posts to one thread take turns on the thread's row lock, so
    ids, `created` times and the thread's last activity all agree.
    """
    # `created` is never earlier than the thread's last activity, so it follows id order
    # even when clocks or concurrent posts disagree.
    now = timezone.now()
    params = {
        "thread": thread_id,
        "sender": sender.pk,
        "text": text,
        "now": connection.ops.adapt_datetimefield_value(now),
        "client_id": Message._meta.get_field("client_id").get_db_prep_value(client_id, connection),
    }
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(POST_SQL, params)
            blocked, message_id, created = cursor.fetchone()
    else:
        with transaction.atomic():
            blocked, message_id, created = _post_in_turn(params, now)
    if blocked is None:
        raise Http404(THREAD_NOT_FOUND)
    if blocked:
        raise PermissionDenied(BLOCKED_IN_THREAD)
    if message_id is None:  # the client_id was already used by this sender in this thread
        stored = Message.objects.get(thread_id=thread_id, sender=sender, client_id=client_id)
        if stored.text != text and stored.deleted is None:
            raise ClientIdReused
        return stored, False
    message = Message(
        id=message_id,
        thread_id=thread_id,
        sender=sender,
        text=text,
        created=created,
        client_id=client_id,
    )
    message._state.adding = False  # it is stored: behave like a fetched instance
    message._state.db = connection.alias
    return message, True


THREAD_NOT_FOUND = "No Thread matches the given query."
BLOCKED_IN_THREAD = "You cannot post in this thread: the other participant has blocked you."

# The sender's thread, its last activity, and whether its other participant blocks the
# sender. No row: the sender does not take part in it (or it is gone).
POST_TARGET = """
SELECT t.id, t.updated, EXISTS(
    SELECT 1 FROM users_block b JOIN threads_participant other
    ON other.user_id = b.blocker_id AND other.thread_id = t.id
    WHERE b.blocked_id = %(sender)s
) AS blocked
FROM threads_thread t
JOIN threads_participant me ON me.thread_id = t.id AND me.user_id = %(sender)s
WHERE t.id = %(thread)s
"""

# PostgreSQL: the whole post in one statement, so one round trip, atomic without a
# transaction block of its own. The thread's row lock (FOR UPDATE) is taken before the
# insert reads `target`; a post that waited for it sees the thread as the post before it
# left it, and the updates apply to that newest row. A retry whose client_id is taken
# inserts nothing (ON CONFLICT), so nothing moves.
POST_SQL = f"""
WITH target AS ({POST_TARGET} FOR UPDATE OF t),
message AS (
    INSERT INTO threads_message (thread_id, sender_id, text, created, is_read, client_id)
    SELECT target.id, %(sender)s, %(text)s, GREATEST(%(now)s, target.updated), false,
        %(client_id)s
    FROM target WHERE NOT target.blocked
    ON CONFLICT (thread_id, sender_id, client_id) WHERE client_id IS NOT NULL DO NOTHING
    RETURNING id, created
),
thread AS (
    UPDATE threads_thread t SET updated = m.created, last_message_id = m.id,
        message_count = t.message_count + 1
    FROM message m WHERE t.id = %(thread)s
),
members AS (
    UPDATE threads_participant p SET updated = m.created,
        unread_count = p.unread_count + CASE WHEN p.user_id = %(sender)s THEN 0 ELSE 1 END
    FROM message m WHERE p.thread_id = %(thread)s
)
SELECT (SELECT blocked FROM target), m.id, m.created
FROM (SELECT 1) AS one LEFT JOIN message m ON true
"""


def _post_in_turn(params: dict, now) -> tuple:
    """SQLite, which has no writes inside WITH: the same steps in turn, in the caller's
    transaction. IMMEDIATE transactions already run one at a time, and statements run
    in-process, so the extra statements cost no round trips."""
    with connection.cursor() as cursor:
        cursor.execute(POST_TARGET, params)
        target = cursor.fetchone()
        if target is None or target[2]:
            return (target and bool(target[2])), None, None
        if params["client_id"] is not None:
            cursor.execute(
                "SELECT 1 FROM threads_message WHERE thread_id = %(thread)s "
                "AND sender_id = %(sender)s AND client_id = %(client_id)s",
                params,
            )
            if cursor.fetchone():
                return False, None, None
        created = max(now, db_datetime(target[1]))
        values = {**params, "created": connection.ops.adapt_datetimefield_value(created)}
        cursor.execute(
            "INSERT INTO threads_message "
            "(thread_id, sender_id, text, created, is_read, client_id) "
            "VALUES (%(thread)s, %(sender)s, %(text)s, %(created)s, false, %(client_id)s) "
            "RETURNING id",
            values,
        )
        (values["id"],) = cursor.fetchone()
        cursor.execute(
            "UPDATE threads_thread SET updated = %(created)s, last_message_id = %(id)s, "
            "message_count = message_count + 1 WHERE id = %(thread)s",
            values,
        )
        cursor.execute(
            "UPDATE threads_participant SET updated = %(created)s, unread_count = "
            "unread_count + CASE WHEN user_id = %(sender)s THEN 0 ELSE 1 END "
            "WHERE thread_id = %(thread)s",
            values,
        )
    return False, values["id"], created


def _lock_thread(thread_id: int) -> None:
    """Take the thread's row lock for the rest of the transaction (PostgreSQL; SQLite's
    IMMEDIATE transactions already run one at a time), or Http404 if it is gone.

    Writers that lock several rows take the thread first, then messages, then
    participants, so they queue behind each other instead of deadlocking."""
    if not list(Thread.objects.select_for_update().filter(pk=thread_id).values_list("pk")):
        raise Http404("The thread was deleted.")


def _check_sender(*, message: Message, editor: AbstractBaseUser) -> None:
    if message.sender_id != editor.pk:
        raise PermissionDenied("You can only change your own messages.")


def _refuse_if_blocked(*, user: AbstractBaseUser, thread_id: int) -> None:
    """The other participant of the thread has blocked `user`: they may no longer write in
    it (post or edit; taking their own words back stays allowed)."""
    if Block.objects.filter(blocked=user, blocker__memberships__thread_id=thread_id).exists():
        raise PermissionDenied(BLOCKED_IN_THREAD)


@transaction.atomic
def message_edit(*, message: Message, editor: AbstractBaseUser, text: str) -> Message:
    """The sender replaces the text of their message; `edited` records when.

    The update is conditional on the message still being live, so an edit racing a delete
    cannot bring deleted text back.
    """
    _check_sender(message=message, editor=editor)
    _refuse_if_blocked(user=editor, thread_id=message.thread_id)
    now = timezone.now()
    live = Message.objects.filter(pk=message.pk, deleted__isnull=True)
    if not live.update(text=text, edited=now):
        if Message.objects.filter(pk=message.pk).exists():
            raise MessageDeleted
        raise Http404("The message was deleted with its thread.")
    message.text, message.edited = text, now
    return message


@transaction.atomic
def message_delete(*, message: Message, editor: AbstractBaseUser) -> None:
    """The sender removes their message. The row stays, as deleted and without its text, so
    the conversation keeps its shape; deleting again changes nothing. A message deleted
    before it was read no longer waits for its recipient."""
    _check_sender(message=message, editor=editor)
    _lock_thread(message.thread_id)  # counters move: thread first (see the module's note)
    if not Message.objects.filter(pk=message.pk, deleted__isnull=True).update(
        text="", deleted=timezone.now()
    ):
        return
    if not Message.objects.filter(pk=message.pk, is_read=True).exists():
        _received(thread_id=message.thread_id, by_other_than=editor.pk, change=-1)


@transaction.atomic
def message_purge(*, message: Message) -> None:
    """A moderator removes a message for good (the admin's delete). The thread's read
    state (last message and activity, count, unread counts) is recomputed from what is
    left: a rare action, so exactness wins over incremental bookkeeping."""
    _lock_thread(message.thread_id)
    if Message.objects.filter(pk=message.pk).delete()[0]:
        thread_counters_rebuild(thread_ids=[message.thread_id])


def thread_mark_read(
    *,
    thread: Thread,
    reader: AbstractBaseUser,
    up_to: int | None = None,
    reader_unread_count: int | None = None,
) -> int:
    """Mark read the messages in `thread` that `reader` received and has not read, all of
    them or only those up to message id `up_to` (what the reader has actually seen).
    Returns how many messages changed.

    Clients mark a thread read every time they open it, mostly with nothing new: the
    reader's exact unread counter answers that case without a transaction (callers that
    already hold it, as `selectors.thread_for` provides, pass `reader_unread_count`).
    A message arriving just after that read was not on the reader's screen either.
    """
    if reader_unread_count is None:  # the caller has not read the counter: read it now
        waiting = Participant.objects.filter(thread=thread, user=reader, unread_count__gt=0)
        reader_unread_count = 1 if waiting.exists() else 0
    if reader_unread_count == 0:
        return 0
    with transaction.atomic():
        _lock_thread(thread.pk)  # counters move: thread first (see the module's note)
        unread = Message.objects.waiting_for(reader, thread=thread)
        if up_to is not None:
            unread = unread.filter(id__lte=up_to)
        marked = unread.update(is_read=True)
        if marked:
            Participant.objects.filter(thread=thread, user=reader).update(
                unread_count=F("unread_count") - marked
            )
    return marked


def _received(*, thread_id: int, by_other_than: int, change: int) -> None:
    """Move the unread count of the participant who is not `by_other_than`."""
    Participant.objects.filter(thread_id=thread_id).exclude(user_id=by_other_than).update(
        unread_count=F("unread_count") + change
    )


@transaction.atomic
def thread_counters_rebuild(*, thread_ids: list[int]) -> None:
    """Recompute the denormalised read state of `thread_ids` from their messages: each
    thread's last message, message count and last activity (its newest message, else its
    creation), each participant's copy of that activity and unread count, and each
    participant's thread count. For bulk loads
    (seed data, benchmarks) and repairs; the other services keep these exact as they go,
    so in normal operation this changes nothing."""
    # Lock the threads (in id order, like every writer) so that no post or mark-read
    # moves a counter between the recount and its write.
    if connection.features.has_select_for_update:
        list(
            Thread.objects.select_for_update()
            .filter(pk__in=thread_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    messages = Message.objects.filter(thread=OuterRef("pk")).order_by()
    newest = messages.order_by("-id")
    Thread.objects.filter(pk__in=thread_ids).update(
        last_message_id=Subquery(newest.values("id")[:1]),
        updated=Coalesce(Subquery(newest.values("created")[:1]), F("created")),
        message_count=Coalesce(
            Subquery(messages.values("thread").annotate(n=Count("pk")).values("n")), 0
        ),
    )
    waiting = (
        Message.objects.filter(thread=OuterRef("thread"), is_read=False, deleted__isnull=True)
        .exclude(sender=OuterRef("user"))
        .order_by()
        .values("thread")
        .annotate(n=Count("pk"))
        .values("n")
    )
    Participant.objects.filter(thread_id__in=thread_ids).update(
        updated=Subquery(Thread.objects.filter(pk=OuterRef("thread")).values("updated")),
        unread_count=Coalesce(Subquery(waiting), 0),
    )
    memberships = (
        Participant.objects.filter(user=OuterRef("pk"))
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")
    )
    User.objects.filter(memberships__thread_id__in=thread_ids).update(
        thread_count=Coalesce(Subquery(memberships), 0)
    )
