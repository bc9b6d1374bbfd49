"""Writes. One keyword-only, atomic function per change, so every path that changes
threads (REST, the admin, anything later) behaves the same.

The denormalised read state (a thread's `last_message` and `message_count`, each
participant's `updated` and `unread_count`) changes in the same transaction as the rows it
describes, with relative updates (`F() + 1`) that stay exact when writers run concurrently.
Every writer that moves a counter or deletes messages first takes the thread's row lock
(`_lock_thread`), so writers to one thread take turns instead of deadlocking on rows they
lock in different orders (a thread's delete removes participants before messages, a
mark-read locks messages before its participant row).

Each service announces its change to the participants' live connections
(`threads.events`) once its transaction commits, so every path that writes (REST, the
admin, a WebSocket) is pushed the same way.
"""

from collections.abc import Iterable
from uuid import UUID

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from chat_project.rawsql import db_datetime
from threads import events
from threads.models import Message, Participant, Thread
from threads.selectors import message_row_of, thread_row_for
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

    people = {requester.pk: requester, other.pk: other}

    def thread_created(user_id: int) -> dict | None:
        # Each participant gets the thread as their own list shows it.
        row = thread_row_for(people[user_id], thread.pk)
        if row is None:  # deleted again meanwhile
            return None
        return {"type": events.THREAD_CREATED, "thread": thread.pk, "data": row}

    events.publish_each(thread_created, to=people)
    return thread, True


@transaction.atomic
def thread_delete(*, thread: Thread) -> None:
    """Delete a thread and all its messages, for both participants."""
    # Lock first: a message being posted right now either lands before (and is deleted
    # with the rest) or finds the thread gone, never one that references a deleted thread.
    thread_id = thread.pk
    participants = _lock_thread(thread_id)
    # The messages in one statement: left to the ORM's cascade, a thread's messages are
    # fetched and deleted a batch at a time, because a thread's `last_message` points
    # at one of them (a 200,000-message thread took 2,000 queries and 3 s, with every
    # writer waiting). Nothing listens to message deletes.
    Thread.objects.filter(pk=thread_id).update(last_message=None)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM threads_message WHERE thread_id = %s", [thread_id])
    thread.delete()
    _count_threads(user_ids=participants, change=-1)
    events.publish({"type": events.THREAD_DELETED, "thread": thread_id}, to=participants)


def _count_threads(*, user_ids: Iterable[int], change: int) -> None:
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

    Storing is atomic either way: on PostgreSQL the whole post is one statement (see
    POST_SQL), elsewhere a transaction; a retry's original is read just after. Posts to
    one thread take turns on the thread's row lock, so ids, `created` times and the
    thread's last activity all agree.
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
            blocked, pair_key, message_id, created = cursor.fetchone()
    else:
        with transaction.atomic():
            blocked, pair_key, message_id, created = _post_in_turn(params, now)
    if blocked is None:
        raise Http404(THREAD_NOT_FOUND)
    if blocked:
        raise PermissionDenied(BLOCKED_IN_THREAD)
    if message_id is None:  # the client_id was already used by this sender in this thread
        stored = Message.objects.filter(
            thread_id=thread_id, sender=sender, client_id=client_id
        ).first()
        if stored is None:  # gone since (deleted with its thread, or by a moderator)
            raise Http404(THREAD_NOT_FOUND)
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
    events.publish(
        events.message_event(events.MESSAGE_CREATED, message_row_of(message)),
        to=Thread.participant_ids_in(pair_key),
    )
    return message, True


THREAD_NOT_FOUND = "No Thread matches the given query."
BLOCKED_IN_THREAD = "You cannot post in this thread: the other participant has blocked you."

# The sender's thread, its last activity, and whether its other participant blocks the
# sender. No row: the sender does not take part in it (or it is gone).
POST_TARGET = """
SELECT t.id, t.updated, t.pair_key, EXISTS(
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
SELECT (SELECT blocked FROM target), (SELECT pair_key FROM target), m.id, m.created
FROM (SELECT 1) AS one LEFT JOIN message m ON true
"""


def _post_in_turn(params: dict, now) -> tuple:
    """SQLite, which has no writes inside WITH: the same steps in turn, in the caller's
    transaction. IMMEDIATE transactions already run one at a time, and statements run
    in-process, so the extra statements cost no round trips."""
    with connection.cursor() as cursor:
        cursor.execute(POST_TARGET, params)
        target = cursor.fetchone()
        if target is None:
            return None, None, None, None
        _, updated, pair_key, blocked = target
        if blocked:
            return True, pair_key, None, None
        if params["client_id"] is not None:
            cursor.execute(
                "SELECT 1 FROM threads_message WHERE thread_id = %(thread)s "
                "AND sender_id = %(sender)s AND client_id = %(client_id)s",
                params,
            )
            if cursor.fetchone():
                return False, pair_key, None, None
        created = max(now, db_datetime(updated))
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
    return False, pair_key, values["id"], created


def _lock_thread(thread_id: int) -> tuple[int, int]:
    """Take the thread's row lock for the rest of the transaction (PostgreSQL; SQLite's
    IMMEDIATE transactions already run one at a time), or Http404 if it is gone. Returns
    the ids of its participants (from its pair key), to address events to.

    Writers that lock several rows take the thread first, then messages, then
    participants, so they queue behind each other instead of deadlocking."""
    keys = Thread.objects.select_for_update().filter(pk=thread_id).values_list("pair_key")
    found = list(keys)
    if not found:
        raise Http404("The thread was deleted.")
    return Thread.participant_ids_in(found[0][0])


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
    events.publish(
        events.message_event(events.MESSAGE_UPDATED, message_row_of(message)),
        to=Thread.participant_ids_in(message.thread.pair_key),
    )
    return message


@transaction.atomic
def message_delete(*, message: Message, editor: AbstractBaseUser) -> None:
    """The sender removes their message. The row stays, as deleted and without its text, so
    the conversation keeps its shape; deleting again changes nothing. A message deleted
    before it was read no longer waits for its recipient."""
    _check_sender(message=message, editor=editor)
    # Counters move: thread first (see the module's note).
    participants = _lock_thread(message.thread_id)
    now = timezone.now()
    if not Message.objects.filter(pk=message.pk, deleted__isnull=True).update(text="", deleted=now):
        return
    if not Message.objects.filter(pk=message.pk, is_read=True).exists():
        _received(thread_id=message.thread_id, by_other_than=editor.pk, change=-1)
    message.text, message.deleted = "", now
    events.publish(
        events.message_event(events.MESSAGE_DELETED, message_row_of(message)),
        to=participants,
    )


@transaction.atomic
def message_purge(*, message: Message) -> None:
    """A moderator removes a message for good (the admin's delete). The thread's read
    state (last message and activity, count, unread counts) is recomputed from what is
    left: a rare action, so exactness wins over incremental bookkeeping."""
    participants = _lock_thread(message.thread_id)
    if Message.objects.filter(pk=message.pk).delete()[0]:
        _read_state_rebuild([message.thread_id])  # memberships did not change
        # Gone for good: no data, only which message to drop.
        events.publish(
            {
                "type": events.MESSAGE_DELETED,
                "thread": message.thread_id,
                "message": message.pk,
                "data": None,
            },
            to=participants,
        )


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
        # The newest message this read reaches: the read receipt's "up to".
        newest = unread.aggregate(newest=Max("id"))["newest"]
        if newest is None:
            return 0
        marked = unread.filter(id__lte=newest).update(is_read=True)
        membership = Participant.objects.filter(thread=thread, user=reader)
        membership.update(unread_count=F("unread_count") - marked)
        remaining = membership.values_list("unread_count", flat=True).get()
        receipt = {"type": events.THREAD_READ, "thread": thread.pk, "reader": reader.pk}
        receipt["up_to"] = newest
        events.publish({**receipt, "unread_count": remaining}, to=[reader.pk])
        events.publish(receipt, to=[thread.other_participant_id(reader.pk)])
    return marked


def _received(*, thread_id: int, by_other_than: int, change: int) -> None:
    """Move the unread count of the participant who is not `by_other_than`."""
    Participant.objects.filter(thread_id=thread_id).exclude(user_id=by_other_than).update(
        unread_count=F("unread_count") + change
    )


@transaction.atomic
def thread_counters_rebuild(*, thread_ids: list[int]) -> None:
    """Recompute the denormalised state of `thread_ids` from their rows: each thread's
    last message, message count and last activity (its newest message, else its
    creation), each participant's copy of that activity and unread count, and each
    participant's thread count. For bulk loads (seed data, benchmarks) and repairs; the
    other services keep these exact as they go, so in normal operation this changes
    nothing."""
    _lock_threads(thread_ids)
    _read_state_rebuild(thread_ids)
    people = Participant.objects.filter(thread_id__in=thread_ids).values_list("user_id")
    _thread_counts_rebuild(user_ids=[user_id for (user_id,) in people])


def _lock_threads(thread_ids: Iterable[int]) -> None:
    """Lock threads in id order, like every writer: no post or mark-read moves their
    counters until the transaction ends. Lock order across the services: threads, then
    users (`_lock_users`), each in id order."""
    if connection.features.has_select_for_update:
        locking = Thread.objects.select_for_update().filter(pk__in=thread_ids).order_by("pk")
        list(locking.values_list("pk", flat=True))


def _lock_users(user_ids: Iterable[int]) -> None:
    if connection.features.has_select_for_update:
        locking = User.objects.select_for_update().filter(pk__in=user_ids).order_by("pk")
        list(locking.values_list("pk", flat=True))


def _read_state_rebuild(thread_ids: list[int]) -> None:
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


def _thread_counts_rebuild(*, user_ids: list[int]) -> None:
    # Lock the users first, then count in a statement of its own: on PostgreSQL a
    # statement that waited for a row lock computes its subqueries from the snapshot it
    # started with, which may miss a thread created meanwhile. Once the lock is held, a
    # create still in flight adds its +1 after this count is written.
    _lock_users(user_ids)
    memberships = (
        Participant.objects.filter(user=OuterRef("pk"))
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")
    )
    User.objects.filter(pk__in=user_ids).update(thread_count=Coalesce(Subquery(memberships), 0))


@transaction.atomic
def threads_delete_of(*, user_ids: list[int]) -> None:
    """Delete every thread the users `user_ids` take part in (an account's deletion takes
    its conversations along, so the other person keeps no dangling thread or unread
    count). All the threads and then all the people involved are locked first, in the
    services' lock order, so a long deletion cannot deadlock with a thread being created
    or deleted by one of those people meanwhile."""
    threads = list(Thread.objects.filter(memberships__user_id__in=user_ids).distinct())
    _lock_threads(thread.pk for thread in threads)
    _lock_users({pid for thread in threads for pid in Thread.participant_ids_in(thread.pair_key)})
    for thread in threads:
        thread_delete(thread=thread)
