"""A thread's life: started once per pair of people, deleted with all its messages."""

from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from threads import events, files, queries
from threads.errors import BlockedByOther
from threads.models import Participant, Thread
from threads.selectors import thread_row_for
from threads.services.counters import count_threads, lock_inboxes, lock_thread, lock_threads
from users.queries import is_blocked


@transaction.atomic
def thread_get_or_create(
    *, requester: AbstractBaseUser, other: AbstractBaseUser
) -> tuple[Thread, bool]:
    """The one thread between `requester` and `other`, creating it if needed.

    Returns `(thread, created)`. Two concurrent calls for the same pair race on the unique
    `pair_key`; the loser's insert fails inside a savepoint and it returns the winner's
    thread, so callers never see two threads or an IntegrityError. Someone `other` has
    blocked cannot start a thread with them (BlockedByOther); an existing thread is still
    theirs to read.
    """
    if requester.pk == other.pk:
        raise ValueError("A thread needs two distinct participants.")
    pair_key = Thread.pair_key_for(requester.pk, other.pk)
    existing = Thread.objects.filter(pair_key=pair_key).first()
    if existing is not None:
        return existing, False
    if is_blocked(blocker_id=other.pk, blocked_id=requester.pk):
        raise BlockedByOther
    try:
        with transaction.atomic():
            now = timezone.now()
            thread = Thread.objects.create(pair_key=pair_key, created=now, updated=now)
    except IntegrityError:
        return Thread.objects.get(pair_key=pair_key), False
    Participant.objects.bulk_create(
        [Participant(thread=thread, user=user, updated=now) for user in (requester, other)]
    )
    count_threads(user_ids=[requester.pk, other.pk], change=+1)

    people = {requester.pk: requester, other.pk: other}
    # Each participant gets the thread as their own list shows it.
    events.record(
        lambda user_id: {
            "type": events.THREAD_CREATED,
            "thread": thread.pk,
            "data": thread_row_for(people[user_id], thread.pk),
        },
        to=people,
    )
    return thread, True


@transaction.atomic
def thread_delete(*, thread: Thread) -> None:
    """Delete a thread and all its messages and attachments (their files after the
    commit), for both participants."""
    # Lock first: a message being posted right now either lands before (and is deleted
    # with the rest) or finds the thread gone, never one that references a deleted thread.
    thread_id = thread.pk
    participants = lock_thread(thread_id)
    Thread.objects.filter(pk=thread_id).update(last_message=None)
    files.remove_after_commit(queries.thread_attachments_delete(thread_id=thread_id))
    queries.thread_messages_delete(thread_id=thread_id)
    thread.delete()
    count_threads(user_ids=participants, change=-1)
    events.publish({"type": events.THREAD_DELETED, "thread": thread_id}, to=participants)


@transaction.atomic
def threads_delete_of(*, user_ids: list[int]) -> None:
    """Delete every thread the users `user_ids` take part in (an account's removal takes
    its conversations along, so the other person keeps no dangling thread or unread
    count): `threads_delete`."""
    threads_delete(threads=Thread.objects.filter(memberships__user_id__in=user_ids).distinct())


@transaction.atomic
def threads_delete(*, threads: Iterable[Thread]) -> None:
    """Delete several threads as `thread_delete` does each (an account's removal, a
    moderator's selection). All the threads and then all the people involved are locked
    first, in the services' lock order, so a long deletion cannot deadlock with a thread
    being created or deleted by one of those people meanwhile; a thread already gone is
    skipped."""
    threads = list(threads)
    lock_threads(thread.pk for thread in threads)
    lock_inboxes(pid for thread in threads for pid in Thread.participant_ids_in(thread.pair_key))
    ids = [thread.pk for thread in threads]
    present = set(Thread.objects.filter(pk__in=ids).values_list("pk", flat=True))
    for thread in threads:
        if thread.pk in present:
            thread_delete(thread=thread)
