"""What the thread rules answer when they refuse a request (see chat_project.exceptions).
Raised by the services and selectors; the OpenAPI examples are built from them too."""

from chat_project.exceptions import ChatError, Conflict, InvalidField, NotFound, PermissionDenied
from threads.models import MAX_DISTINCT_REACTIONS


class ThreadNotFound(NotFound):
    """Not one of the requester's threads (or no such thread: the answer is the same)."""

    detail = "No Thread matches the given query."


class ThreadDeleted(NotFound):
    """The thread was deleted while the request was on its way."""

    detail = "The thread was deleted."


class MessageNotFound(NotFound):
    detail = "No Message matches the given query."


class MessageDeletedWithThread(NotFound):
    detail = "The message was deleted with its thread."


class BlockedByOther(PermissionDenied):
    """The other user has blocked the requester: no new thread with them."""

    detail = "You cannot start a thread with this user: they have blocked you."


class BlockedInThread(PermissionDenied):
    """The thread's other participant has blocked the requester: no more writing in it."""

    detail = "You cannot post in this thread: the other participant has blocked you."


class NotTheSender(PermissionDenied):
    detail = "You can only change your own messages."


class MessageDeleted(Conflict):
    code = "message_deleted"
    detail = "This message was deleted and can no longer be edited."


class ClientIdReused(Conflict):
    code = "client_id_reused"
    detail = "This client_id was already used for a different message."


class MessageEmpty(InvalidField):
    """A message with neither text nor attachments (an edit that would leave it so)."""

    field = "text"
    code = "blank"
    detail = "A message needs text or attachments."


# Attachments.


class AttachmentNotFound(NotFound):
    """No such attachment in any of the requester's threads (or no such file)."""

    detail = "No Attachment matches the given query."


class ThumbnailNotFound(NotFound):
    detail = "This attachment has no thumbnail: it is not an image."


class AttachmentUnknown(InvalidField):
    """Not an attachment the sender uploaded into this thread (or no such attachment)."""

    field = "attachments"
    code = "does_not_exist"
    detail = "Unknown attachment: send the ids of files you uploaded into this thread."


class AttachmentInUse(Conflict):
    """The attachment already belongs to another message (two messages raced for it)."""

    code = "attachment_in_use"
    detail = "An attachment is already part of another message: upload the file again."


class ImageTooLarge(InvalidField):
    """An image over ATTACHMENT_MAX_IMAGE_PIXELS, or one Pillow takes for a decompression
    bomb: decoding it would take more memory than any picture needs."""

    field = "file"
    code = "image_too_large"
    detail = "The image has too many pixels to be decoded safely."


class ImageTooManyFrames(InvalidField):
    """An animation of more frames than `threads.files.MAX_IMAGE_FRAMES`: each one costs
    its decoding and re-encoding, however small."""

    field = "file"
    code = "image_too_many_frames"
    detail = "The animation has too many frames: at most {limit}."

    def __init__(self, *, limit: int) -> None:
        super().__init__(self.detail.format(limit=limit))


class LinkInvalid(PermissionDenied):
    """A signed attachment link that has expired, or was not made by this server."""

    code = "link_invalid"
    detail = "This link has expired or is not valid: fetch the message again for a fresh one."


class ReactionNotFound(NotFound):
    """The requester has no such reaction on the message (or never had)."""

    detail = "You have not reacted to this message with this emoji."


class MessageDeletedNoReactions(Conflict):
    """A deleted message has lost its reactions with its text, and takes no new ones."""

    code = "message_deleted"
    detail = "This message was deleted and can no longer be reacted to."


class TooManyReactions(Conflict):
    code = "too_many_reactions"
    detail = (
        f"This message already has {MAX_DISTINCT_REACTIONS} different reactions: react with "
        "one of them."
    )


# What the WebSocket answers a client message it cannot take (threads/consumers.py).


class SocketThrottled(ChatError):
    code = "throttled"
    detail = "Too many messages: slow down."


class NotJson(ChatError):
    code = "parse_error"
    detail = "Send JSON objects."


class UnknownClientMessage(ChatError):
    detail = 'The only message a client sends is {"type": "typing"}.'


class NotAThreadId(ChatError):
    detail = "`thread` must be a thread id."


class NotACursor(ChatError):
    """`/ws/?since=` is not a cursor: the text is the sync endpoint's field error."""


class ResyncRequired(ChatError):
    """The client's cursor is older than the change log keeps (SYNC_RETENTION_DAYS), or
    newer than any this server gave: what changed since cannot be told."""

    status = 410
    code = "resync_required"
    detail = (
        "The changes since this cursor are no longer kept: load everything again, "
        "then sync from the cursor that a sync without `since` answers."
    )
