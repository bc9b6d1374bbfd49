"""Messages: posted by a participant, edited and deleted by their sender, purged by a
moderator."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from uuid import UUID

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from threads import events, files, queries
from threads.errors import (
    BlockedInThread,
    ClientIdReused,
    MessageDeleted,
    MessageDeletedWithThread,
    MessageEmpty,
    NotTheSender,
    ThreadDeleted,
    ThreadNotFound,
)
from threads.models import Message, Reaction, Thread
from threads.selectors import message_row_of, reaction_records_of
from threads.services.attachments import attachments_claim
from threads.services.counters import (
    count_received,
    lock_thread,
    lock_threads,
    read_state_rebuild,
)


def message_send(
    *,
    thread_id: int,
    sender: AbstractBaseUser,
    text: str,
    client_id: UUID | None = None,
    attachment_ids: Sequence[int] = (),
) -> tuple[Message, bool]:
    """Post `text` from `sender` into their thread `thread_id`, with the files
    `attachment_ids` they uploaded there (in that order). Returns `(message, created)`.

    ThreadNotFound unless `sender` takes part in the thread (it may also have been deleted
    meanwhile); BlockedInThread when the other participant has blocked the sender;
    AttachmentUnknown / AttachmentInUse when an attachment is not the sender's upload in
    this thread or already belongs to a message (nothing is posted then). With a
    `client_id`, posting is idempotent: a retry of the same message (same sender, thread
    and client_id) returns the message first stored, even when the retries run
    concurrently; reusing the id for a different text or files raises ClientIdReused.

    Storing is atomic (`queries.message_post`, the change-log entries included, and with
    attachments one transaction around it and their claim); a retry's original is read
    just after.
    """
    if not attachment_ids:
        return _send(thread_id=thread_id, sender=sender, text=text, client_id=client_id)
    with transaction.atomic():
        return _send(
            thread_id=thread_id,
            sender=sender,
            text=text,
            client_id=client_id,
            attachment_ids=attachment_ids,
        )


def _send(
    *,
    thread_id: int,
    sender: AbstractBaseUser,
    text: str,
    client_id: UUID | None,
    attachment_ids: Sequence[int] = (),
) -> tuple[Message, bool]:
    posted = queries.message_post(
        thread_id=thread_id,
        sender_id=sender.pk,
        text=text,
        now=timezone.now(),
        client_id=client_id,
        kind=events.MESSAGE_CREATED,
    )
    if posted.target is None:
        raise ThreadNotFound
    if posted.target.blocked:
        raise BlockedInThread
    if posted.message_id is None:  # the client_id was already used by this sender here
        stored = Message.objects.filter(
            thread_id=thread_id, sender=sender, client_id=client_id
        ).first()
        if stored is None:  # gone since (deleted with its thread, or by a moderator)
            raise ThreadNotFound
        if stored.deleted is None and (
            stored.text != text or _attachment_ids(stored) != list(attachment_ids)
        ):
            raise ClientIdReused
        return stored, False
    attachments = []
    if attachment_ids:
        attachments = attachments_claim(
            message_id=posted.message_id,
            thread_id=thread_id,
            sender_id=sender.pk,
            attachment_ids=attachment_ids,
        )
        Message.objects.filter(pk=posted.message_id).update(attachment_count=len(attachments))
    message = Message(
        id=posted.message_id,
        thread_id=thread_id,
        sender=sender,
        text=text,
        created=posted.created,
        client_id=client_id,
        attachment_count=len(attachments),
    )
    message._state.adding = False  # it is stored: behave like a fetched instance
    message._state.db = connection.alias
    message.reaction_records = []  # nobody has reacted yet: the same for both readers
    # Logged by the post itself; the same event for both participants.
    event = events.message_event(
        events.MESSAGE_CREATED, message_row_of(message, attachments, reader_id=sender.pk)
    )
    events.announce((user_id, event, cursor) for user_id, cursor in posted.cursors.items())
    return message, True


def _attachment_ids(message: Message) -> list[int]:
    if not message.attachment_count:
        return []
    return [record["id"] for record in queries.attachments_of([message.pk]).get(message.pk, [])]


def _check_sender(*, message: Message, editor: AbstractBaseUser) -> None:
    if message.sender_id != editor.pk:
        raise NotTheSender


@transaction.atomic
def message_edit(
    *,
    message: Message,
    editor: AbstractBaseUser,
    text: str | None = None,
    attachment_ids: Sequence[int] | None = None,
) -> Message:
    """The sender replaces the text of their message, or its attachments, or both (None:
    unchanged); `edited` records when. The attachments become exactly `attachment_ids`:
    new ones are claimed as in `message_send`, the ones left out are deleted (their files
    after the commit). A message keeps text or attachments (MessageEmpty otherwise).

    A sender the other participant has blocked may no longer write in the thread
    (BlockedInThread); taking their own words back (`message_delete`) stays allowed. The
    update is conditional on the message still being live, so an edit racing a delete
    cannot bring deleted text back.
    """
    _check_sender(message=message, editor=editor)
    target = queries.write_target(user_id=editor.pk, thread_id=message.thread_id)
    if target is not None and target.blocked:
        raise BlockedInThread
    if attachment_ids is not None:
        try:  # attachments are deleted and claimed: the thread's lock first
            lock_thread(message.thread_id)
        except ThreadDeleted:
            raise MessageDeletedWithThread from None
    now = timezone.now()
    changes = {"edited": now}
    if text is not None:
        changes["text"] = text
    if attachment_ids is not None:
        changes["attachment_count"] = len(attachment_ids)
    live = Message.objects.filter(pk=message.pk, deleted__isnull=True)
    if not live.update(**changes):
        if Message.objects.filter(pk=message.pk).exists():
            raise MessageDeleted
        raise MessageDeletedWithThread
    attachments = None
    if attachment_ids is not None:
        files.remove_after_commit(
            queries.message_attachments_delete(message_id=message.pk, keep=attachment_ids)
        )
        attachments = attachments_claim(
            message_id=message.pk,
            thread_id=message.thread_id,
            sender_id=editor.pk,
            attachment_ids=attachment_ids,
        )
    # What the message holds now (a concurrent edit of the other part counts too).
    stored = Message.objects.filter(pk=message.pk).values("text", "attachment_count").get()
    if not stored["text"].strip() and not stored["attachment_count"]:
        raise MessageEmpty
    message.text, message.edited = stored["text"], now
    message.attachment_count = stored["attachment_count"]
    # Read while the update holds the message's row, which writers of reactions lock too:
    # the event carries the reactions as they are when the edit commits.
    reaction_records_of(message, fresh=True)
    events.record(
        lambda reader_id: events.message_event(
            events.MESSAGE_UPDATED, message_row_of(message, attachments, reader_id=reader_id)
        ),
        to=Thread.participant_ids_in(message.thread.pair_key),
    )
    return message


@transaction.atomic
def message_delete(*, message: Message, editor: AbstractBaseUser) -> None:
    """The sender removes their message. The row stays, as deleted and without its text, so
    the conversation keeps its shape; deleting again changes nothing. Its reactions go with
    its text (they were about it), and it takes no new ones. A message deleted before it
    was read no longer waits for its recipient."""
    _check_sender(message=message, editor=editor)
    participants = lock_thread(message.thread_id)  # counters move: thread first
    now = timezone.now()
    live = Message.objects.filter(pk=message.pk, deleted__isnull=True)
    if not live.update(text="", deleted=now, attachment_count=0):
        return
    files.remove_after_commit(queries.message_attachments_delete(message_id=message.pk))
    Reaction.objects.filter(message_id=message.pk).delete()
    if not Message.objects.filter(pk=message.pk, is_read=True).exists():
        count_received(thread_id=message.thread_id, by_other_than=editor.pk, change=-1)
    message.text, message.deleted, message.attachment_count = "", now, 0
    message.reaction_records = []
    events.publish(
        events.message_event(events.MESSAGE_DELETED, message_row_of(message, reader_id=editor.pk)),
        to=participants,
    )


def message_purge(*, message: Message) -> None:
    """A moderator removes a message for good (the admin's delete): `messages_purge` of
    one."""
    messages_purge(messages=[message])


@transaction.atomic
def messages_purge(*, messages: Iterable[Message]) -> None:
    """A moderator removes messages for good (the admin's delete, of one or of a
    selection), their attachments with them (the files after the commit). Their threads'
    read state (last message and activity, count, unread counts) is recomputed from what
    is left: a rare action, so exactness wins over incremental bookkeeping. The threads
    are locked in id order first, as every writer that locks several does, so a bulk
    purge queues behind other writers instead of deadlocking; a message whose thread has
    gone meanwhile went with it."""
    by_thread: dict[int, list[int]] = defaultdict(list)
    for message in messages:
        by_thread[message.thread_id].append(message.pk)
    lock_threads(list(by_thread))
    pair_keys = Thread.objects.filter(pk__in=list(by_thread)).values_list("pk", "pair_key")
    for thread_id, pair_key in sorted(pair_keys):
        message_ids = by_thread[thread_id]
        for message_id in message_ids:
            files.remove_after_commit(queries.message_attachments_delete(message_id=message_id))
        present = list(
            Message.objects.filter(pk__in=message_ids, thread_id=thread_id).values_list(
                "pk", flat=True
            )
        )
        if not present:
            continue
        Message.objects.filter(pk__in=present).delete()
        read_state_rebuild([thread_id])
        for message_id in present:
            # Gone for good: no data, only which message to drop.
            events.publish(
                events.message_event(
                    events.MESSAGE_DELETED, None, thread_id=thread_id, message_id=message_id
                ),
                to=Thread.participant_ids_in(pair_key),
            )
