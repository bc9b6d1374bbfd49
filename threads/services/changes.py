"""The change logs: what a deletion leaves in them, and their pruning.

Entries are appended by `threads.events.record`, in the transaction of each change."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from threads.models import Change, Inbox
from threads.selectors import message_row_deleted
from threads.services.counters import lock_inboxes

# Entries rewritten or pruned per statement.
BATCH = 1000


def changes_redact(
    *, thread_id: int, people: Iterable[int], deleted: datetime, message_id: int | None = None
) -> None:
    """Show the message `message_id` (or every message of the thread) as deleted at
    `deleted` in the events the logs of `people` (the thread's participants) hold about
    it: no text, files or reactions are kept for a client that syncs later. The entries
    keep their place and type, so a client still learns every change, in order.

    The people's inboxes are locked first, as `changes_prune` locks them before it
    deletes entries: the two never hold entries the other waits for."""
    lock_inboxes(people)
    entries = Change.objects.filter(thread_id=thread_id, message_id__isnull=False).order_by()
    if message_id is not None:
        entries = entries.filter(message_id=message_id)
    redacted = []
    for entry in entries.only("id", "event").iterator(chunk_size=BATCH):
        data = entry.event.get("data")
        if isinstance(data, dict) and "text" in data:
            entry.event["data"] = message_row_deleted(data, deleted=deleted)
            redacted.append(entry)
    Change.objects.bulk_update(redacted, ["event"], batch_size=BATCH)


def changes_prune(*, older_than: timedelta) -> int:
    """Remove the entries older than `older_than`, oldest first, a batch per transaction,
    and record in each person's inbox the newest cursor removed (a client behind it is
    told to load everything again). Returns how many were removed."""
    cutoff = timezone.now() - older_than
    removed = 0
    while True:
        with transaction.atomic():
            # Ids grow with time, so the oldest entries lead the primary key.
            batch = list(
                Change.objects.filter(created__lt=cutoff)
                .order_by("id")
                .values_list("id", "user_id", "cursor")[:BATCH]
            )
            if not batch:
                return removed
            pruned: dict[int, int] = {}
            for _, user_id, cursor in batch:
                pruned[user_id] = max(pruned.get(user_id, 0), cursor)
            lock_inboxes(pruned)  # in the writers' lock order
            Inbox.objects.bulk_update(
                [
                    Inbox(user_id=user_id, pruned_cursor=cursor)
                    for user_id, cursor in pruned.items()
                ],
                ["pruned_cursor"],
            )
            Change.objects.filter(id__in=[entry_id for entry_id, _, _ in batch]).delete()
            removed += len(batch)
