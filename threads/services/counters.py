"""The locks every writer takes, in one order, and the repair of the counters.

Lock order across the services: threads, then messages, then reactions, then
participants, then inboxes (where the change logs take their cursors), each in id order.
Writers that lock several rows therefore queue behind each other instead of deadlocking
(a thread's delete removes participants before messages, a mark-read locks messages
before its participant row). Attachments change only under their thread's lock (uploads,
claims by messages, deletions), but for the pruning of day-old unused uploads."""

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Coalesce

from threads.errors import ThreadDeleted
from threads.models import Inbox, Message, Participant, Thread


def lock_thread(thread_id: int) -> tuple[int, int]:
    """Take the thread's row lock for the rest of the transaction (PostgreSQL; SQLite's
    IMMEDIATE transactions already run one at a time), or ThreadDeleted if it is gone.
    Returns the ids of its participants (from its pair key), to address events to."""
    keys = Thread.objects.select_for_update().filter(pk=thread_id).values_list("pair_key")
    found = list(keys)
    if not found:
        raise ThreadDeleted
    return Thread.participant_ids_in(found[0][0])


def lock_threads(thread_ids: Iterable[int]) -> None:
    """Lock threads in id order: no post or mark-read moves their counters until the
    transaction ends."""
    if connection.features.has_select_for_update:
        locking = Thread.objects.select_for_update().filter(pk__in=thread_ids).order_by("pk")
        list(locking.values_list("pk", flat=True))


def lock_inboxes(user_ids: Iterable[int]) -> None:
    """Lock the users' inboxes (made if missing) in id order, as `count_threads` takes
    them one at a time."""
    user_ids = sorted(set(user_ids))
    _inboxes_ensure(user_ids)
    if connection.features.has_select_for_update:
        locking = Inbox.objects.select_for_update().filter(pk__in=user_ids).order_by("pk")
        list(locking.values_list("pk", flat=True))


def _inboxes_ensure(user_ids: list[int]) -> None:
    Inbox.objects.bulk_create([Inbox(user_id=pk) for pk in user_ids], ignore_conflicts=True)


def count_threads(*, user_ids: Iterable[int], change: int) -> None:
    """Move the thread counters of `user_ids`, one row at a time in id order: concurrent
    creates and deletes that share a user then queue instead of deadlocking."""
    user_ids = sorted(user_ids)
    _inboxes_ensure(user_ids)
    for user_id in user_ids:
        Inbox.objects.filter(pk=user_id).update(thread_count=F("thread_count") + change)


def count_received(*, thread_id: int, by_other_than: int, change: int) -> None:
    """Move the unread count of the participant who is not `by_other_than`."""
    Participant.objects.filter(thread_id=thread_id).exclude(user_id=by_other_than).update(
        unread_count=F("unread_count") + change
    )


@transaction.atomic
def thread_counters_rebuild(*, thread_ids: list[int]) -> None:
    """Recompute the denormalised state of `thread_ids` from their rows: each thread's
    last message, message count and last activity (its newest message, else its
    creation), each participant's copy of that activity and unread count, and each
    participant's thread count. For bulk loads (seed data, benchmarks: they insert rows
    without the services) and repairs; the services keep these exact as they go, so in
    normal operation this changes nothing."""
    lock_threads(thread_ids)
    read_state_rebuild(thread_ids)
    people = Participant.objects.filter(thread_id__in=thread_ids).values_list("user_id")
    _thread_counts_rebuild(user_ids=[user_id for (user_id,) in people])


def read_state_rebuild(thread_ids: list[int]) -> None:
    """Recompute the threads' last message, activity and count, and their participants'
    activity and unread counts, from the messages (memberships unchanged)."""
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
    # Lock the inboxes first, then count in a statement of its own: on PostgreSQL a
    # statement that waited for a row lock computes its subqueries from the snapshot it
    # started with, which may miss a thread created meanwhile. Once the lock is held, a
    # create still in flight adds its +1 after this count is written.
    lock_inboxes(user_ids)
    memberships = (
        Participant.objects.filter(user=OuterRef("pk"))
        .order_by()
        .values("user")
        .annotate(n=Count("pk"))
        .values("n")
    )
    Inbox.objects.filter(pk__in=user_ids).update(thread_count=Coalesce(Subquery(memberships), 0))
