"""Writes. One keyword-only, atomic function per change, so every path that changes
threads (REST today, the admin and WebSocket later) behaves the same.

The denormalised read state (a thread's `last_message` and `message_count`, each
participant's `updated` and `unread_count`) changes in the same transaction as the rows it
describes, with relative updates (`F() + 1`, `GREATEST`) that stay exact when writers run
concurrently. Writers that touch counters lock in one order (message rows, then the thread,
then participants), so concurrent writers wait for each other instead of deadlocking.
"""

from contextlib import nullcontext
from uuid import UUID

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, F, Max, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from threads.models import Message, Participant, Thread
from users.models import Block


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
    if Block.objects.filter(blocker=other, blocked=requester).exists():
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
    return thread, True


@transaction.atomic
def thread_delete(*, thread: Thread) -> None:
    """Delete a thread and all its messages, for both participants."""
    thread.delete()


@transaction.atomic
def message_send(
    *, thread: Thread, sender: AbstractBaseUser, text: str, client_id: UUID | None = None
) -> tuple[Message, bool]:
    """Post `text` from `sender` into `thread`. Returns `(message, created)`.

    With a `client_id`, posting is idempotent: a retry of the same message (same sender,
    thread and client_id) returns the message first stored, even when the retries run
    concurrently; reusing the id for a different text raises ClientIdReused.
    Refused (PermissionDenied) when the other participant has blocked the sender, and
    Thread.DoesNotExist when the thread was deleted meanwhile.
    """
    if Block.objects.filter(blocked=sender, blocker__memberships__thread=thread).exists():
        raise PermissionDenied(
            "You cannot post in this thread: the other participant has blocked you."
        )
    if client_id is not None:
        stored = _message_with_client_id(thread=thread, sender=sender, client_id=client_id)
        if stored is not None:
            return _same_message(stored, text), False
    now = timezone.now()
    # Only an insert with a client_id can lose a race worth recovering from (a concurrent
    # retry), so only that one pays for a savepoint.
    savepoint = transaction.atomic() if client_id is not None else nullcontext()
    try:
        with savepoint:
            message = Message.objects.create(
                thread=thread, sender=sender, text=text, created=now, client_id=client_id
            )
    except IntegrityError:
        # A concurrent retry stored it first (unique client_id), or the thread is gone
        # (PostgreSQL checks the foreign key at once).
        stored = client_id and _message_with_client_id(
            thread=thread, sender=sender, client_id=client_id
        )
        if stored:
            return _same_message(stored, text), False
        raise Thread.DoesNotExist("The thread was deleted.") from None
    # GREATEST keeps activity and the last message from moving backwards when two posts
    # commit out of order.
    moved = Thread.objects.filter(pk=thread.pk).update(
        updated=Greatest("updated", Value(now)),
        last_message_id=Greatest(Coalesce("last_message_id", 0), Value(message.pk)),
        message_count=F("message_count") + 1,
    )
    if not moved:  # SQLite checks foreign keys only at commit: find out here instead
        raise Thread.DoesNotExist("The thread was deleted.")
    Participant.objects.filter(thread=thread).update(
        updated=Greatest("updated", Value(now)),
        unread_count=Case(When(user=sender, then=F("unread_count")), default=F("unread_count") + 1),
    )
    return message, True


def _message_with_client_id(
    *, thread: Thread, sender: AbstractBaseUser, client_id: UUID
) -> Message | None:
    return Message.objects.filter(thread=thread, sender=sender, client_id=client_id).first()


def _same_message(stored: Message, text: str) -> Message:
    if stored.text != text and stored.deleted is None:
        raise ClientIdReused
    return stored


def _check_sender(*, message: Message, editor: AbstractBaseUser) -> None:
    if message.sender_id != editor.pk:
        raise PermissionDenied("You can only change your own messages.")


@transaction.atomic
def message_edit(*, message: Message, editor: AbstractBaseUser, text: str) -> Message:
    """The sender replaces the text of their message; `edited` records when.

    The update is conditional on the message still being live, so an edit racing a delete
    cannot bring deleted text back.
    """
    _check_sender(message=message, editor=editor)
    now = timezone.now()
    live = Message.objects.filter(pk=message.pk, deleted__isnull=True)
    if not live.update(text=text, edited=now):
        if Message.objects.filter(pk=message.pk).exists():
            raise MessageDeleted
        raise Message.DoesNotExist("The message was deleted with its thread.")
    message.text, message.edited = text, now
    return message


@transaction.atomic
def message_delete(*, message: Message, editor: AbstractBaseUser) -> None:
    """The sender removes their message. The row stays, as deleted and without its text, so
    the conversation keeps its shape; deleting again changes nothing. A message deleted
    before it was read no longer waits for its recipient."""
    _check_sender(message=message, editor=editor)
    # The conditional update locks the row, so `is_read` read back below cannot change
    # under us (mark_read updates the same row).
    if not Message.objects.filter(pk=message.pk, deleted__isnull=True).update(
        text="", deleted=timezone.now()
    ):
        return
    if not Message.objects.filter(pk=message.pk, is_read=True).exists():
        _received(thread_id=message.thread_id, by_other_than=editor.pk, change=-1)


@transaction.atomic
def message_purge(*, message: Message) -> None:
    """A moderator removes a message for good (the admin's delete). The thread's counters,
    last message and the recipient's unread count follow."""
    thread_id = message.thread_id
    rows = Message.objects.filter(pk=message.pk)
    waiting = rows.filter(is_read=False, deleted__isnull=True).exists()
    if not rows.delete()[0]:
        return
    newest = Message.objects.filter(thread_id=thread_id).aggregate(newest=Max("id"))["newest"]
    Thread.objects.filter(pk=thread_id).update(
        message_count=F("message_count") - 1, last_message_id=newest
    )
    if waiting:
        _received(thread_id=thread_id, by_other_than=message.sender_id, change=-1)


@transaction.atomic
def thread_mark_read(*, thread: Thread, reader: AbstractBaseUser, up_to: int | None = None) -> int:
    """Mark read the messages in `thread` that `reader` received and has not read, all of
    them or only those up to message id `up_to` (what the reader has actually seen).
    Returns how many messages changed."""
    unread = Message.objects.filter(thread=thread, is_read=False, deleted__isnull=True).exclude(
        sender=reader
    )
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
    thread's last message and message count, each participant's last activity and unread
    count. For bulk loads (seed data, benchmarks) and repairs; the other services keep
    these exact as they go, so in normal operation this changes nothing."""
    messages = Message.objects.filter(thread=OuterRef("pk")).order_by()
    Thread.objects.filter(pk__in=thread_ids).update(
        last_message_id=Subquery(messages.order_by("-id").values("id")[:1]),
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
