"""Reads. One function per read shape; each owns the joins and annotations its shape needs,
so a serializer never has to query per row. Every function is scoped to the requester."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery
from django.db.models.functions import Coalesce

from threads.models import Message, Thread


def threads_of(user: AbstractBaseUser) -> QuerySet[Thread]:
    """The threads `user` takes part in, bare. Any other thread is simply absent, which is
    what makes every thread endpoint answer 404 to a stranger."""
    return Thread.objects.filter(participants=user)


def unread_messages_for(user: AbstractBaseUser) -> QuerySet[Message]:
    """Messages waiting for `user`: unread, not deleted, in the user's threads, sent by the
    other person (a sender's own messages are read or unread for the other participant)."""
    return Message.objects.filter(
        thread__participants=user, is_read=False, deleted__isnull=True
    ).exclude(sender=user)


def thread_unread_count(*, thread: Thread, reader: AbstractBaseUser) -> int:
    """How many messages in `thread` wait for `reader` (see `unread_messages_for`)."""
    return (
        Message.objects.filter(thread=thread, is_read=False, deleted__isnull=True)
        .exclude(sender=reader)
        .count()
    )


def thread_list_for(user: AbstractBaseUser) -> QuerySet[Thread]:
    """The thread list row: participants, the id of the last message and the requester's
    unread count, most recent activity first. Pass the rows that will be shown through
    `with_last_messages` to load those messages. Constant queries whatever the page size,
    and each row's subqueries are index seeks, whatever the length of the history."""
    unread_in_thread = (
        Message.objects.filter(thread=OuterRef("pk"), is_read=False, deleted__isnull=True)
        .exclude(sender=user)
        .order_by()
        .values("thread")
        .annotate(total=Count("pk"))
        .values("total")
    )
    newest_message = Message.objects.filter(thread=OuterRef("pk")).order_by("-id").values("id")
    return (
        threads_of(user)
        .annotate(
            unread_count=Coalesce(Subquery(unread_in_thread, output_field=IntegerField()), 0),
            last_message_id=Subquery(newest_message[:1]),
        )
        .prefetch_related(
            Prefetch(
                "participants",
                queryset=get_user_model().objects.only("pk", "username").order_by("pk"),
            ),
        )
        .order_by("-updated", "-id")
    )


def with_last_messages(threads: list[Thread]) -> list[Thread]:
    """Attach `last_message` to rows of `thread_list_for`, in one query for all of them.

    Done on the page rather than in the queryset because a per-thread "newest message"
    prefetch (a window function over each thread's messages) reads every message of every
    thread on the page; fetching by the annotated ids reads exactly one row per thread.
    """
    ids = [thread.last_message_id for thread in threads if thread.last_message_id]
    messages = Message.objects.in_bulk(ids) if ids else {}
    for thread in threads:
        thread.last_message = messages.get(thread.last_message_id)
    return threads


def message_list_for(thread: Thread, *, search: str = "") -> QuerySet[Message]:
    """A thread's messages, newest first, optionally only those whose text contains
    `search`. The caller has already scoped `thread` to the requester (see `threads_of`)."""
    messages = Message.objects.filter(thread=thread)
    if search:
        messages = messages.filter(text__icontains=search, deleted__isnull=True)
    return messages.order_by("-id")


def message_search_for(user: AbstractBaseUser, *, search: str = "") -> QuerySet[Message]:
    """Messages across all of `user`'s threads, newest first, optionally matching `search`."""
    messages = Message.objects.filter(thread__participants=user)
    if search:
        messages = messages.filter(text__icontains=search, deleted__isnull=True)
    return messages.order_by("-id")


def first_unread_id(thread: Thread, reader: AbstractBaseUser) -> int | None:
    """Id of the oldest message in `thread` that `reader` has not read yet."""
    return (
        Message.objects.filter(thread=thread, is_read=False, deleted__isnull=True)
        .exclude(sender=reader)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )


@dataclass(frozen=True)
class MessageWindow:
    """One page of a thread's history around a cursor, newest first."""

    results: list[Message]
    has_more_before: bool
    has_more_after: bool


def message_window(
    messages: QuerySet[Message],
    *,
    before: int | None = None,
    after: int | None = None,
    around: int | None = None,
    limit: int,
) -> MessageWindow:
    """Keyset paging by message id (ids only grow, so id order is posting order).

    `before`: the `limit` newest messages older than that id. `after`: the `limit` oldest
    messages newer than it (a client catching up reads forward without gaps). `around`:
    that message and the ones just before and after it. No cursor: the newest page.
    Costs at most three indexed queries, however deep in the history the page is.
    """
    newest_first = messages.order_by("-id")
    oldest_first = messages.order_by("id")
    if after is not None:
        rows = list(oldest_first.filter(id__gt=after)[: limit + 1])
        has_more_after = len(rows) > limit
        rows = rows[:limit]
        oldest = rows[0].id if rows else after + 1
        has_more_before = newest_first.filter(id__lt=oldest).exists()
        return MessageWindow(rows[::-1], has_more_before, has_more_after)
    if around is not None:
        # Half the page on each side; near either end of the history the other side fills
        # the page, so a reader never gets a half-empty page while there is more to show.
        newer = list(oldest_first.filter(id__gte=around)[: limit + 1])
        older = list(newest_first.filter(id__lt=around)[: limit + 1])
        newer_taken = min(len(newer), max(limit - limit // 2, limit - len(older)))
        older_taken = min(len(older), limit - newer_taken)
        rows = newer[:newer_taken][::-1] + older[:older_taken]
        return MessageWindow(rows, len(older) > older_taken, len(newer) > newer_taken)
    page = newest_first if before is None else newest_first.filter(id__lt=before)
    rows = list(page[: limit + 1])
    has_more_before = len(rows) > limit
    rows = rows[:limit]
    if before is None:
        has_more_after = False
    else:
        newest = rows[0].id if rows else before - 1
        has_more_after = newest_first.filter(id__gt=newest).exists()
    return MessageWindow(rows, has_more_before, has_more_after)
