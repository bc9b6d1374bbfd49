"""Attachments: uploaded into a thread, claimed by a message, removed with what they
belong to (and, never claimed, pruned after a day), or by a moderator."""

from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from threads import events, files, queries
from threads.errors import AttachmentInUse, AttachmentUnknown, BlockedInThread, ThreadNotFound
from threads.models import Attachment, Message, Thread
from threads.selectors import message_row_of, reaction_records_of
from threads.services.counters import lock_thread, lock_threads

# Most attachments one message may have.
MAX_PER_MESSAGE = 10
# How many unused uploads one prune transaction removes.
PRUNE_BATCH = 500


def attachment_upload(
    *, thread_id: int, uploader: AbstractBaseUser, upload: UploadedFile
) -> Attachment:
    """Keep a file a participant uploads into their thread `thread_id`, to be sent with a
    message of theirs (`message_send`, `message_edit`).

    ThreadNotFound unless `uploader` takes part in the thread; BlockedInThread when the
    other participant has blocked them (they may not write there). The file is inspected
    and cleaned (`threads.files.inspect`: ImageTooLarge for an image over the pixel
    limit) and stored before its row is written, in a transaction that holds the thread's
    lock, so a thread deleted meanwhile takes the row along or refuses it (ThreadDeleted);
    whatever fails after the files are stored removes them again.
    """
    target = queries.write_target(user_id=uploader.pk, thread_id=thread_id)
    if target is None:
        raise ThreadNotFound
    if target.blocked:
        raise BlockedInThread
    name = files.clean_name(upload.name)
    inspected = files.inspect(upload, name=name, claimed_type=upload.content_type)
    stored = files.store(upload, inspected)
    try:
        with transaction.atomic():
            lock_thread(thread_id)
            return Attachment.objects.create(
                thread_id=thread_id,
                uploader=uploader,
                name=name,
                size=stored.size,
                content_type=inspected.content_type,
                width=inspected.width,
                height=inspected.height,
                file=stored.file,
                thumbnail=stored.thumbnail,
                sha256=stored.sha256,
            )
    except BaseException:
        files.remove([stored.file, stored.thumbnail])
        raise


def attachments_claim(
    *, message_id: int, thread_id: int, sender_id: int, attachment_ids: Sequence[int]
) -> list[dict]:
    """Make the uploads `attachment_ids` the message's, in that order, inside the caller's
    transaction; their records. AttachmentUnknown if one is not the sender's upload in
    this thread, AttachmentInUse if one already belongs to another message: the caller's
    transaction then rolls back, message included."""
    claimed = queries.attachments_claim(
        message_id=message_id,
        thread_id=thread_id,
        sender_id=sender_id,
        attachment_ids=attachment_ids,
    )
    if len(claimed) < len(attachment_ids):
        missing = sorted(set(attachment_ids) - {record["id"] for record in claimed})
        if queries.attachments_taken(
            thread_id=thread_id, sender_id=sender_id, attachment_ids=missing
        ):
            raise AttachmentInUse(attachments=missing)
        raise AttachmentUnknown(attachments=missing)
    return claimed


def attachments_prune(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Remove the uploads that no message claimed within `older_than` (their files after
    the commit), a batch per transaction. Returns how many went."""
    cutoff = timezone.now() - older_than
    removed = 0
    while True:
        with transaction.atomic():
            deleted = queries.unused_attachments_delete(created_before=cutoff, limit=PRUNE_BATCH)
            files.remove_after_commit(deleted)
        removed += len(deleted)
        if len(deleted) < PRUNE_BATCH:
            return removed


@transaction.atomic
def unused_attachments_delete_of(*, user_id: int) -> None:
    """Remove the uploads of `user_id` that no message claimed (their account is closing:
    nobody can send them any more). The files go after the commit."""
    while deleted := queries.unused_attachments_delete(uploader_id=user_id, limit=PRUNE_BATCH):
        files.remove_after_commit(deleted)


def orphan_files_remove(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Remove stored files no attachment names, older than `older_than`: left behind when
    a process stopped between storing an upload and recording it, or a deletion could not
    reach the storage. Walks the whole `attachments/` folder of the storage (on object
    storage, a listing and a request per file): for an occasional sweep, not every day.
    Returns how many files went."""
    cutoff = timezone.now() - older_than
    removed = 0
    for names in files.stored_names_in_batches():
        known = set(Attachment.objects.filter(file__in=names).values_list("file", flat=True)) | set(
            Attachment.objects.filter(thumbnail__in=names).values_list("thumbnail", flat=True)
        )
        for name in names:
            if name not in known and files.modified(name) < cutoff:
                files.remove([name])
                removed += 1
    return removed


@transaction.atomic
def attachments_purge(*, attachments: Iterable[Attachment]) -> None:
    """A moderator removes files (the admin's delete, of one or of a selection): the rows
    go and their files after the commit. A message keeps its text and its other files
    (even with none left: it stays, as the moderator left it), and both participants get
    it again as changed (`message.updated`, with no new `edited` time: the sender did
    not edit it). The threads are locked in id order first, as every writer that locks
    several does."""
    attachments = list(attachments)
    attachment_ids = [attachment.pk for attachment in attachments]
    thread_ids = {attachment.thread_id for attachment in attachments}
    lock_threads(thread_ids)
    message_ids = set(
        Attachment.objects.filter(pk__in=attachment_ids, message__isnull=False).values_list(
            "message_id", flat=True
        )
    )
    files.remove_after_commit(queries.attachments_delete(attachment_ids=attachment_ids))
    changed = Message.objects.filter(pk__in=message_ids).select_related("sender", "thread")
    for message in changed.order_by("pk"):
        message.attachment_count = Attachment.objects.filter(message=message).count()
        Message.objects.filter(pk=message.pk).update(attachment_count=message.attachment_count)
        reaction_records_of(message, fresh=True)
        events.record(
            lambda reader_id, message=message: events.message_event(
                events.MESSAGE_UPDATED, message_row_of(message, reader_id=reader_id)
            ),
            to=Thread.participant_ids_in(message.thread.pair_key),
        )
