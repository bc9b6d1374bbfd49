"""Reads. One function per read shape; each owns the joins and annotations its shape needs,
so a serializer never has to query per row. Every function is scoped to the requester."""

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
    """Messages waiting for `user`: unread, in the user's threads, sent by the other person
    (a sender's own messages are read or unread for the other participant only)."""
    return Message.objects.filter(thread__participants=user, is_read=False).exclude(sender=user)


def thread_list_for(user: AbstractBaseUser) -> QuerySet[Thread]:
    """The thread list row: participants, last message and the requester's unread count,
    most recent activity first, in a constant number of queries whatever the page size."""
    unread_in_thread = (
        Message.objects.filter(thread=OuterRef("pk"), is_read=False)
        .exclude(sender=user)
        .order_by()
        .values("thread")
        .annotate(total=Count("pk"))
        .values("total")
    )
    return (
        threads_of(user)
        .annotate(unread_count=Coalesce(Subquery(unread_in_thread, output_field=IntegerField()), 0))
        .prefetch_related(
            Prefetch("participants", queryset=get_user_model().objects.only("pk").order_by("pk")),
            # A sliced Prefetch fetches each thread's newest message in one query.
            Prefetch("messages", queryset=Message.objects.order_by("-id")[:1], to_attr="latest"),
        )
        .order_by("-updated", "-id")
    )


def message_list_for(thread: Thread) -> QuerySet[Message]:
    """A thread's messages, newest first. The caller has already scoped `thread` to the
    requester (see `threads_of`)."""
    return Message.objects.filter(thread=thread).order_by("-id")
