"""Writes. One keyword-only, atomic function per change, so every path that changes
threads (REST today, the admin and WebSocket later) behaves the same."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Greatest
from django.utils import timezone

from threads.models import Message, Thread
from users.models import Block


class MessageDeleted(Exception):
    """The message was deleted; it can no longer be edited."""


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
    thread.participants.add(requester, other)
    return thread, True


@transaction.atomic
def thread_delete(*, thread: Thread) -> None:
    """Delete a thread and all its messages, for both participants."""
    thread.delete()


@transaction.atomic
def message_send(*, thread: Thread, sender: AbstractBaseUser, text: str) -> Message:
    """Post `text` from `sender` into `thread` and move the thread's last activity.

    Refused (PermissionDenied) when the other participant has blocked the sender.
    """
    if Block.objects.filter(blocked=sender, blocker__threads=thread).exists():
        raise PermissionDenied(
            "You cannot post in this thread: the other participant has blocked you."
        )
    now = timezone.now()
    # Touch the thread first: the update locks its row (PostgreSQL) or the database
    # (SQLite, IMMEDIATE) until commit, so a concurrent delete either happens before it,
    # and the message is refused as not found, or waits until the message is in.
    # GREATEST keeps the activity time from moving backwards when posts commit out of order.
    if not Thread.objects.filter(pk=thread.pk).update(updated=Greatest("updated", Value(now))):
        raise Thread.DoesNotExist("The thread was deleted.")
    return Message.objects.create(thread=thread, sender=sender, text=text, created=now)


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
    the conversation keeps its shape; deleting again changes nothing."""
    _check_sender(message=message, editor=editor)
    Message.objects.filter(pk=message.pk, deleted__isnull=True).update(
        text="", deleted=timezone.now()
    )


@transaction.atomic
def thread_mark_read(*, thread: Thread, reader: AbstractBaseUser, up_to: int | None = None) -> int:
    """Mark read the messages in `thread` that `reader` received and has not read, all of
    them or only those up to message id `up_to` (what the reader has actually seen).
    Returns how many messages changed."""
    unread = Message.objects.filter(thread=thread, is_read=False).exclude(sender=reader)
    if up_to is not None:
        unread = unread.filter(id__lte=up_to)
    return unread.update(is_read=True)
