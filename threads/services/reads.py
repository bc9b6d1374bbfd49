"""Read state: a reader marks what they have seen."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Max

from threads import events
from threads.models import Message, Participant, Thread
from threads.services.counters import lock_thread


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
        lock_thread(thread.pk)  # counters move: thread first
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
        # The reader's own copy also says how many messages still wait for them.
        events.record(
            lambda user_id: (
                {**receipt, "unread_count": remaining} if user_id == reader.pk else receipt
            ),
            to=[reader.pk, thread.other_participant_id(reader.pk)],
        )
    return marked
