"""The change logs' pruning.

Entries are appended by `threads.events.record`, in the transaction of each change."""

from datetime import timedelta

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from threads.models import Change, Inbox
from threads.services.counters import lock_inboxes

# Entries pruned per transaction.
BATCH = 1000


def changes_prune(*, older_than: timedelta) -> int:
    """Remove the entries older than `older_than`, oldest first, a batch per transaction,
    and record in each person's inbox the newest cursor removed (a client behind it is
    told to load everything again). Returns how many were removed.

    The recorded cursor never moves back: a batch may hold a person's older cursors than
    one pruned before it (their entries' times need not follow their cursors, and two
    prunes may overlap), and lowering it would let a cursor through past a removed entry."""
    cutoff = timezone.now() - older_than
    removed = 0
    while True:
        with transaction.atomic():
            # Ids grow with time, so the oldest entries lead the primary key: a batch is
            # the run of entries from its start that are older than the cutoff, and the
            # first younger one ends the pruning (an entry a few milliseconds out of
            # order waits for the next day's run) without scanning the rest.
            oldest = list(
                Change.objects.order_by("id").values_list("id", "user_id", "cursor", "created")[
                    :BATCH
                ]
            )
            batch = []
            for entry_id, user_id, cursor, created in oldest:
                if created >= cutoff:
                    break
                batch.append((entry_id, user_id, cursor))
            if not batch:
                return removed
            pruned: dict[int, int] = {}
            for _, user_id, cursor in batch:
                pruned[user_id] = max(pruned.get(user_id, 0), cursor)
            lock_inboxes(pruned)  # in the writers' lock order
            Inbox.objects.bulk_update(
                [
                    Inbox(
                        user_id=user_id, pruned_cursor=Greatest(F("pruned_cursor"), Value(cursor))
                    )
                    for user_id, cursor in pruned.items()
                ],
                ["pruned_cursor"],
            )
            Change.objects.filter(id__in=[entry_id for entry_id, _, _ in batch]).delete()
            removed += len(batch)
        if len(batch) < len(oldest) or len(oldest) < BATCH:
            return removed
