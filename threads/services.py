"""Writes. One keyword-only, atomic function per change, so every path that changes
threads (REST today, the admin and WebSocket later) behaves the same."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Greatest
from django.utils import timezone

from threads.models import Message, Thread


@transaction.atomic
def thread_get_or_create(
    *, requester: AbstractBaseUser, other: AbstractBaseUser
) -> tuple[Thread, bool]:
    """The one thread between `requester` and `other`, creating it if needed.

    Returns `(thread, created)`. Two concurrent calls for the same pair race on the unique
    `pair_key`; the loser's insert fails inside a savepoint and it returns the winner's
    thread, so callers never see two threads or an IntegrityError.
    """
    if requester.pk == other.pk:
        raise ValueError("A thread needs two distinct participants.")
    pair_key = Thread.pair_key_for(requester.pk, other.pk)
    existing = Thread.objects.filter(pair_key=pair_key).first()
    if existing is not None:
        return existing, False
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
    """Post `text` from `sender` into `thread` and move the thread's last activity."""
    message = Message.objects.create(thread=thread, sender=sender, text=text)
    # A queryset update, not thread.save(), so it cannot overwrite fields changed
    # concurrently; GREATEST keeps the activity time from moving backwards when two posts
    # commit out of order.
    Thread.objects.filter(pk=thread.pk).update(updated=Greatest("updated", Value(message.created)))
    return message


@transaction.atomic
def thread_mark_read(*, thread: Thread, reader: AbstractBaseUser) -> int:
    """Mark read every message in `thread` that `reader` has not read and did not send.
    Returns how many messages changed."""
    return (
        Message.objects.filter(thread=thread, is_read=False)
        .exclude(sender=reader)
        .update(is_read=True)
    )
