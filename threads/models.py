from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.text import Truncator

from threads.emojis import EMOJI_MAX_LENGTH


class Thread(models.Model):
    """A private conversation between exactly two users.

    `pair_key` names the pair independently of order ("<low id>:<high id>"); its unique index
    is what guarantees one thread per pair, even when both users create it at the same time.
    `threads.services.thread_get_or_create` sets the key and the two participants together
    (bulk loaders insert rows directly, then repair the counters with
    `thread_counters_rebuild`).

    `last_message` and `message_count` are kept exact by the services in the same
    transaction as the change that moves them, so reads never aggregate a history:
    `last_message` is always the thread's newest message, deleted ones included (the
    list of all a user's messages relies on it to skip the threads that cannot hold
    them), and rows changed outside the services need `thread_counters_rebuild`.
    """

    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Participant", related_name="threads"
    )
    pair_key = models.CharField(max_length=41, unique=True, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    # Last activity: equal to `created` at first, then every posted message moves it forward.
    updated = models.DateTimeField(default=timezone.now, editable=False)
    last_message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Messages in the thread, deleted ones included (they keep their place in the history).
    message_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-updated", "-id"]

    def __str__(self) -> str:
        """Its participants' names, "alice & bob" (a query unless `participants` is
        prefetched, as the admin's lists do)."""
        names = sorted(user.get_username() for user in self.participants.all())
        return " & ".join(names) or f"Thread {self.pk}"

    @staticmethod
    def pair_key_for(user_id: int, other_user_id: int) -> str:
        low, high = sorted((user_id, other_user_id))
        return f"{low}:{high}"

    def other_participant_id(self, user_id: int) -> int:
        """The id of the participant who is not `user_id`, read from the pair key (no query)."""
        low, high = self.participant_ids_in(self.pair_key)
        return high if user_id == low else low

    @staticmethod
    def participant_ids_in(pair_key: str) -> tuple[int, int]:
        """The two participants' ids a pair key names, lowest first (no query)."""
        low, high = (int(part) for part in pair_key.split(":"))
        return low, high


class Participant(models.Model):
    """One user's side of a thread: their membership, and what the thread list shows them.

    `updated` repeats the thread's last activity so that one user's threads, newest first,
    are a single range of the (user, -updated) index, however many threads the user has.
    `unread_count` is how many messages wait for this user, kept exact by the services.
    """

    # Neither key is indexed on its own: the unique (thread, user) constraint and the
    # (user, -updated, -thread) index lead with them.
    thread = models.ForeignKey(
        Thread, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_index=False,
    )
    updated = models.DateTimeField(default=timezone.now)
    unread_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["thread", "user"], name="participant_once_per_thread")
        ]
        indexes = [
            models.Index(fields=["user", "-updated", "-thread"], name="participant_activity_idx")
        ]

    def __str__(self) -> str:
        return f"User {self.user_id} in thread {self.thread_id}"


class Inbox(models.Model):
    """What the API keeps per person, so reads need not count: how many threads they take
    part in, kept exact by the services in the transactions that create and delete threads
    (and recomputed by `thread_counters_rebuild`), so the list's total is read with its
    page instead of counting thousands of memberships; and where their change log stands
    (`Change`). No row yet counts as 0."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    thread_count = models.PositiveIntegerField(default=0)
    # The cursor of the person's newest change. Moved in the transaction that appends the
    # change, under this row's lock, so one person's cursors commit in their order.
    change_cursor = models.PositiveBigIntegerField(default=0, db_default=0)
    # The changes up to this cursor were pruned (`changes_prune`): a client behind it
    # must load everything again.
    pruned_cursor = models.PositiveBigIntegerField(default=0, db_default=0)

    def __str__(self) -> str:
        return f"User {self.user_id}: {self.thread_count} threads"


class MessageQuerySet(models.QuerySet):
    def waiting_for(self, reader, *, thread: "Thread") -> "MessageQuerySet":
        """The messages of `thread` that wait for `reader`: unread, not deleted, sent by the
        other participant (a sender's own messages are read or unread for the other person
        only). Names the sender by equality, which lets the planner go straight to the
        partial index `message_unread_idx`; `sender != reader` made PostgreSQL scan the
        whole thread instead."""
        return self.filter(
            thread=thread,
            sender_id=thread.other_participant_id(reader.pk),
            is_read=False,
            deleted__isnull=True,
        )


class Message(models.Model):
    # Not indexed on its own: `message_thread_recent_idx` leads with it.
    thread = models.ForeignKey(
        Thread, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sent_messages"
    )
    text = models.TextField()
    created = models.DateTimeField(default=timezone.now, editable=False)
    is_read = models.BooleanField(default=False)
    # Set when the sender edits the text.
    edited = models.DateTimeField(null=True, blank=True)
    # Soft delete: the row stays so the conversation keeps its shape, the text is emptied.
    deleted = models.DateTimeField(null=True, blank=True)
    # Chosen by the client (a UUID) to make posting idempotent: a retry with the same id
    # returns the message instead of posting it twice.
    client_id = models.UUIDField(null=True, blank=True, editable=False)
    # How many attachments the message has, kept exact by the services: pages read the
    # attachments only of the messages that have some (most have none).
    attachment_count = models.PositiveSmallIntegerField(default=0, db_default=0, editable=False)

    objects = MessageQuerySet.as_manager()

    class Meta:
        # Ids only grow, so id order is posting order and a stable tie-breaker for `created`.
        ordering = ["-id"]
        indexes = [
            # A thread's messages, newest first (the message list and the last message).
            models.Index(fields=["thread", "-id"], name="message_thread_recent_idx"),
            # Marking read, finding the first unread message and recounting touch only the
            # messages that wait for someone. A partial index holds just those rows, in id
            # order per sender, so these stay cheap however long the read history is.
            # (Django writes `is_read=False` as `NOT is_read`, which a plain (thread,
            # is_read) index would not match.)
            models.Index(
                fields=["thread", "sender", "id"],
                condition=Q(is_read=False, deleted__isnull=True),
                name="message_unread_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["thread", "sender", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_client_id_once",
            )
        ]

    def __str__(self) -> str:
        """Its sender and the start of its text, "alice: See you at 8…" (the sender is a
        query unless selected with the message, as the admin's lists do)."""
        return f"{self.sender.get_username()}: {Truncator(self.content_label).chars(40)}"

    @property
    def content_label(self) -> str:
        """What the message says, for people reading it in the admin: its text, or that
        it was deleted and when (its text went with it), or how many files it holds."""
        if self.deleted is not None:
            return f"deleted ({timezone.localtime(self.deleted):%Y-%m-%d %H:%M %Z})"
        if self.text.strip():
            return self.text
        files = self.attachment_count
        return f"({files} file{'' if files == 1 else 's'})" if files else "(empty)"


class Attachment(models.Model):
    """A file uploaded into a thread by one of its participants, then part of one of their
    messages there (`message` None until then: such uploads are pruned after a day).

    `file` and `thumbnail` name the stored files (Django's default storage; random names,
    never the client's). `content_type` is what the bytes were found to be, never what the
    client said; `width` and `height` are set for images, which are stored re-encoded
    without their metadata, with a thumbnail. The files go when the row goes, after the
    deleting transaction commits (`threads.files.remove_after_commit`)."""

    # DO_NOTHING: the services delete the attachments of a thread, a message or an account
    # (`accounts_removing` deletes its threads) themselves, first, as their files must go
    # too (`threads.files.remove_after_commit`); a delete that skipped them fails on the
    # foreign key instead of leaving files behind.
    thread = models.ForeignKey(Thread, on_delete=models.DO_NOTHING, related_name="attachments")
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, related_name="+"
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="attachments"
    )
    # Its place among the message's attachments, in the order the sender listed them.
    position = models.PositiveSmallIntegerField(default=0)
    name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    file = models.CharField(max_length=255)
    thumbnail = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The uploads never attached, oldest first: what `attachments_prune` removes.
            models.Index(
                fields=["created"],
                condition=Q(message__isnull=True),
                name="attachment_unused_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name


# The most different emoji one message may carry (a person may add theirs to any of them).
MAX_DISTINCT_REACTIONS = 20


class Reaction(models.Model):
    """One person's emoji on a message: a person reacts with a given emoji at most once per
    message (the unique constraint holds even when the same reaction arrives twice at
    once). A message's reactions, in order of first use, are its rows in id order.
    `threads.services.reaction_add` keeps a message to MAX_DISTINCT_REACTIONS different emoji."""

    # Not indexed on its own: the constraint and the index below lead with it.
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="reactions", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reactions"
    )
    # Fully qualified (threads/emojis.py), so one emoji has one spelling.
    emoji = models.CharField(max_length=EMOJI_MAX_LENGTH)
    created = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "user", "emoji"], name="reaction_once_per_person"
            )
        ]
        indexes = [
            # A page's reactions: its messages' rows, each message's in order of first use.
            models.Index(fields=["message", "id"], name="reaction_message_idx"),
        ]

    def __str__(self) -> str:
        """Like "👍 from alice" (the user is a query unless selected with the reaction)."""
        return f"{self.emoji} from {self.user.get_username()}"


class Change(models.Model):
    """One entry of a person's change log: an event they were sent (a message created,
    updated or deleted, a thread created or deleted, a read receipt, a reaction), stored in
    the transaction that made the change, so a client that was away learns every change
    since its last `cursor` (`GET /api/sync/`, `/ws/?since=`), and the live event is the
    committed entry's (threads/events.py).

    `cursor` counts the person's changes, 1, 2, 3...: it only grows, and their entries
    commit in cursor order (`Inbox.change_cursor`). `kind` is the event's type, `thread_id`
    and `message_id` what it is about (plain numbers: the log outlives deleted threads).
    `event` holds the rest of the event, but for a message's events: those are read with
    the message as it is when the log is read (threads/selectors.py, `changes_for`), so no
    text is kept here, and a deleted message or thread leaves none behind. Entries older
    than SYNC_RETENTION_DAYS are pruned by `manage.py changes_prune`."""

    id = models.BigAutoField(primary_key=True)
    # Not indexed on its own: the unique (user, cursor) constraint leads with it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    cursor = models.PositiveBigIntegerField()
    created = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=32)
    thread_id = models.BigIntegerField(null=True, blank=True)
    message_id = models.BigIntegerField(null=True, blank=True)
    event = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["user", "cursor"]
        constraints = [
            models.UniqueConstraint(fields=["user", "cursor"], name="change_once_per_cursor")
        ]

    def __str__(self) -> str:
        return f"Change {self.cursor} of user {self.user_id}: {self.kind}"
