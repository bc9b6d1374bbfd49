"""Validation of input and the shape of output. No queries per row: the rows themselves
are built by the selectors (`message_row`, `thread_page_for`); these serializers describe
the same shapes for validation and the OpenAPI schema."""

import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import QueryDict
from rest_framework import serializers

from chat_project.ids import MAX_ID
from threads import events
from threads.emojis import EMOJI_MAX_LENGTH, canonical_emoji
from threads.models import MAX_DISTINCT_REACTIONS, Message, Thread
from threads.selectors import message_row_of
from threads.services.attachments import MAX_PER_MESSAGE
from users.errors import no_such_user
from users.serializers import UserSerializer

BLANK = "This field may not be blank."


class MessageTextField(serializers.CharField):
    """Message text: at most CHAT_MESSAGE_MAX_LENGTH characters, stored exactly as sent (no
    trimming). Not blank (whitespace alone is blank) unless `allow_blank`: then the
    serializer decides (a message with attachments may have no text)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(
            max_length=settings.CHAT_MESSAGE_MAX_LENGTH, trim_whitespace=False, **kwargs
        )

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        if not value.strip() and not self.allow_blank:
            self.fail("blank")
        return value


class AttachmentSerializer(serializers.Serializer):
    """A file in a thread, as the upload answers it and every message lists it. `url` and
    `thumbnail_url` are paths relative to the API's origin, signed so that they work
    without the Authorization header (for an `<img>`) until their `expires` time."""

    id = serializers.IntegerField()
    name = serializers.CharField(help_text="The file's name, as uploaded (cleaned).")
    size = serializers.IntegerField(help_text="Bytes, as stored (images are re-encoded).")
    content_type = serializers.CharField(
        help_text="What the bytes are (detected, never the uploader's say-so)."
    )
    width = serializers.IntegerField(allow_null=True, help_text="Pixels; null unless an image.")
    height = serializers.IntegerField(allow_null=True, help_text="Pixels; null unless an image.")
    url = serializers.CharField(help_text="The file: a signed link, valid for an hour or more.")
    thumbnail_url = serializers.CharField(
        allow_null=True, help_text="A small WebP of an image (signed link); null otherwise."
    )


class AttachmentUploadSerializer(serializers.Serializer):
    """A multipart/form-data body with the file in the field `file`."""

    file = serializers.FileField(
        allow_empty_file=False,
        help_text="The file (at most ATTACHMENT_MAX_BYTES, 10 MiB by default).",
    )

    def validate(self, attrs: dict) -> dict:
        # Several parts named `file` would keep the last and drop the others unsaid.
        if hasattr(self.initial_data, "getlist") and len(self.initial_data.getlist("file")) > 1:
            raise serializers.ValidationError({"file": ["One file per upload."]})
        return attrs


class ReactionSummarySerializer(serializers.Serializer):
    """One emoji on a message: how many people reacted with it, and whether the reader did."""

    emoji = serializers.CharField(help_text="One emoji, fully qualified.")
    count = serializers.IntegerField(min_value=1, help_text="How many people reacted with it.")
    me = serializers.BooleanField(help_text="Whether the reader is one of them.")


class MessageSerializer(serializers.ModelSerializer):
    """A message as every endpoint returns it. A deleted message keeps its place with empty
    `text` and a `deleted` time, without attachments or reactions."""

    sender_detail = UserSerializer(source="sender", read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    reactions = ReactionSummarySerializer(
        many=True,
        read_only=True,
        help_text="The message's reactions, one per emoji, in the order each emoji was first "
        f"used; at most {MAX_DISTINCT_REACTIONS}.",
    )

    class Meta:
        model = Message
        fields = [
            "id",
            "thread",
            "sender",
            "sender_detail",
            "text",
            "created",
            "is_read",
            "edited",
            "deleted",
            "attachments",
            "reactions",
        ]
        read_only_fields = fields

    def to_representation(self, message: Message) -> dict:
        # The one definition of a message's shape, shared with the values-shaped reads;
        # its reactions as the requester sees them. (The views call the selector directly.)
        return message_row_of(message, reader_id=self.context["request"].user.pk)


class AttachmentIdsField(serializers.ListField):
    """Ids of files the sender uploaded into the thread: at most MAX_PER_MESSAGE, each once."""

    def __init__(self, **kwargs) -> None:
        super().__init__(
            child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
            max_length=MAX_PER_MESSAGE,
            required=False,
            help_text=f"Ids of files you uploaded into this thread (POST "
            f".../attachments), at most {MAX_PER_MESSAGE}, in the order to show them.",
            **kwargs,
        )

    def to_internal_value(self, data) -> list[int]:
        ids = super().to_internal_value(data)
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("Each attachment can be listed once.")
        return ids


class MessageWriteSerializer(serializers.Serializer):
    """An edit: new text, new attachments (the full list: those left out are deleted), or
    both. What stays must be text or files. Sender, thread, read state and times are the
    server's."""

    # The message edited is in the context (`message`): blank text is fine if it keeps files.

    text = MessageTextField(required=False, allow_blank=True)
    attachments = AttachmentIdsField()

    def validate(self, attrs: dict) -> dict:
        if "text" not in attrs and "attachments" not in attrs:
            raise serializers.ValidationError({"text": ["This field is required."]}, "required")
        text = attrs.get("text")
        if text is not None and not text.strip():
            files = attrs.get("attachments")
            if files is None:  # the message keeps the files it has
                files = self.context["message"].attachment_count
            if not files:
                raise serializers.ValidationError({"text": [BLANK]}, "blank")
        return attrs


class MessagePostSerializer(serializers.Serializer):
    """A new message: text, attachments, or both; for safe retries, an optional
    client-chosen id."""

    text = MessageTextField(required=False, allow_blank=True)
    attachments = AttachmentIdsField()
    client_id = serializers.UUIDField(
        required=False,
        help_text="A UUID the client makes for this message. Retrying the POST with the same "
        "client_id returns the message already stored (200) instead of posting it twice.",
    )

    def validate(self, attrs: dict) -> dict:
        attrs["attachment_ids"] = attrs.pop("attachments", [])
        if not attrs["attachment_ids"]:
            if "text" not in attrs:
                raise serializers.ValidationError({"text": ["This field is required."]}, "required")
            if not attrs["text"].strip():
                raise serializers.ValidationError({"text": [BLANK]}, "blank")
        attrs.setdefault("text", "")
        return attrs


class EmojiField(serializers.CharField):
    """One emoji (threads/emojis.py), validated into the spelling it is stored under."""

    default_error_messages = {
        "not_an_emoji": "Give exactly one emoji (URL-encoded), such as %F0%9F%91%8D for 👍.",
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(max_length=EMOJI_MAX_LENGTH, trim_whitespace=False, **kwargs)

    def to_internal_value(self, data) -> str:
        canonical = canonical_emoji(super().to_internal_value(data))
        if canonical is None:
            self.fail("not_an_emoji")
        return canonical


class ReactionEmojiSerializer(serializers.Serializer):
    """The emoji of a reaction's path."""

    emoji = EmojiField()


class ReactionSerializer(serializers.Serializer):
    """A person's reaction, and the reactions of its message afterwards as the reader sees
    them (the answer to adding one, and the `reaction.*` events)."""

    thread = serializers.IntegerField()
    message = serializers.IntegerField()
    emoji = serializers.CharField(help_text="The emoji, fully qualified.")
    user = serializers.IntegerField(help_text="Who reacted.")
    user_detail = UserSerializer()
    reactions = ReactionSummarySerializer(many=True)


class ThreadSerializer(serializers.ModelSerializer):
    """A row of the thread list, for the requester. Describes the shape for the schema;
    the rows themselves are built by `selectors.thread_page_for`."""

    participants = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    participants_detail = UserSerializer(source="participants", many=True, read_only=True)
    last_message = MessageSerializer(read_only=True, allow_null=True)
    unread_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Thread
        fields = [
            "id",
            "participants",
            "participants_detail",
            "created",
            "updated",
            "last_message",
            "unread_count",
        ]
        read_only_fields = fields


class ThreadCreateSerializer(serializers.Serializer):
    """`{participants: [ids]}` naming the requester and one other user, or just the other.

    Validated into `other`, the user the requester will talk to.
    """

    participants = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        allow_empty=False,
        max_length=2,
        help_text="Your id and the other person's, or just the other person's.",
    )

    def validate_participants(self, ids: list[int]) -> list[int]:
        requester_id = self.context["request"].user.pk
        if len(set(ids)) != len(ids):
            raise serializers.ValidationError("Participants must be two distinct users.")
        others = [pk for pk in ids if pk != requester_id]
        if len(ids) == 2 and len(others) == 2:
            raise serializers.ValidationError("You must be one of the participants.")
        if not others:
            raise serializers.ValidationError("You cannot start a thread with yourself.")
        return ids

    def validate(self, attrs: dict) -> dict:
        requester_id = self.context["request"].user.pk
        (other_id,) = [pk for pk in attrs["participants"] if pk != requester_id]
        other = get_user_model().objects.filter(pk=other_id).first()
        if other is not None and other.deleted is not None:
            raise serializers.ValidationError(
                {"participants": [f"User {other_id} has deleted their account."]},
                code="account_deleted",
            )
        if other is None or not other.is_active:
            raise serializers.ValidationError(
                {"participants": [no_such_user(other_id)]}, code="does_not_exist"
            )
        attrs["other"] = other
        return attrs


class MarkReadSerializer(serializers.Serializer):
    up_to = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="Mark read only messages up to this message id (what the reader has seen). "
        "Omit to mark everything read.",
    )


class MarkReadResultSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many messages became read.")


class UnreadCountSerializer(serializers.Serializer):
    unread_count = serializers.IntegerField()


class MessageListQuerySerializer(serializers.Serializer):
    """Query parameters of a thread's message list. With `before`, `after` or `around` the
    list pages by message id (keyset); otherwise by `limit` and `offset`."""

    before = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Messages older than this id."
    )
    after = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Messages newer than this id."
    )
    around = serializers.RegexField(
        r"^(first_unread|[1-9][0-9]{0,17})$",
        required=False,
        help_text="`first_unread`, or a message id: a page centred on that message.",
    )
    search = serializers.CharField(required=False, max_length=200, help_text="Text to find.")

    def validate(self, attrs: dict) -> dict:
        cursors = [name for name in CURSORS if name in attrs]
        if len(cursors) > 1:
            raise serializers.ValidationError(
                {"non_field_errors": ["Use only one of before, after and around."]}
            )
        return attrs

    @classmethod
    def parse(cls, query: QueryDict) -> dict:
        """The validated parameters of `query`, or ValidationError. Building and running
        this serializer costs more than the rest of a small page (docs/performance.md), so
        the query strings clients send every time (no parameters, one plain cursor, a plain
        search) are read directly; anything else goes through the serializer, whose answers
        are the reference: what the shortcut accepts, the serializer accepts alike."""
        plain = _plain_query(query)
        if plain is not None:
            return plain
        serializer = cls(data=query)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


CURSORS = ("before", "after", "around")
_PLAIN_ID = re.compile(r"[1-9][0-9]{0,17}")  # below MAX_ID, no sign, space or leading zero
_PLAIN_AROUND = re.compile(r"first_unread|[1-9][0-9]{0,17}")


def _plain_query(query: QueryDict) -> dict | None:
    """MessageListQuerySerializer's validated data for a query it would take unchanged,
    or None for anything else (including everything it would refuse)."""
    params = {}
    cursors = [name for name in CURSORS if name in query]
    if len(cursors) > 1:
        return None
    for name in cursors:
        value = query[name]
        plain = _PLAIN_AROUND if name == "around" else _PLAIN_ID
        if not plain.fullmatch(value):
            return None
        params[name] = value if name == "around" else int(value)
    if "search" in query:
        search = query["search"]
        if not search or len(search) > 200 or search != search.strip() or "\x00" in search:
            return None
        params["search"] = search
    return params


class MessageOffsetPageSerializer(serializers.Serializer):
    """A limit/offset page (no cursor given): with the total count and page links."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = MessageSerializer(many=True)


class MessageWindowSerializer(serializers.Serializer):
    """A keyset page: newest first, and whether there is more on either side."""

    has_more_before = serializers.BooleanField(help_text="Older messages exist.")
    has_more_after = serializers.BooleanField(help_text="Newer messages exist.")
    results = MessageSerializer(many=True)


# --- The change log --------------------------------------------------------------------

SYNC_LIMIT_DEFAULT = 100
SYNC_LIMIT_MAX = 1000


class SyncQuerySerializer(serializers.Serializer):
    """Query parameters of a sync (and `since` of `/ws/?since=`)."""

    since = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_ID,
        help_text="The newest cursor the client has seen: the changes after it are answered. "
        "Omit it to get the current cursor and no changes (after a full load).",
    )
    limit = serializers.IntegerField(
        required=False,
        default=SYNC_LIMIT_DEFAULT,
        min_value=1,
        max_value=SYNC_LIMIT_MAX,
        help_text="At most this many changes (`has_more` says if more follow).",
    )


class ChangeSerializer(serializers.Serializer):
    """One change: the event the socket sent (or would have sent) for it, with its
    cursor. The other fields depend on `type`: see the README's "Real-time events"."""

    type = serializers.ChoiceField(choices=events.CHANGES)
    cursor = serializers.IntegerField(help_text="Where this change stands in the log.")
    thread = serializers.IntegerField(help_text="The thread the change is about.")


class SyncSerializer(serializers.Serializer):
    changes = ChangeSerializer(many=True, help_text="Oldest first.")
    cursor = serializers.IntegerField(
        help_text="The newest cursor answered (`since` when nothing changed): the next "
        "sync's `since`."
    )
    has_more = serializers.BooleanField(help_text="More changes follow: sync again at once.")
