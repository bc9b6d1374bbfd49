"""Validation of input and the shape of output. No queries per row: the rows themselves
are built by the selectors (`message_row`, `thread_page_for`); these serializers describe
the same shapes for validation and the OpenAPI schema."""

import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import QueryDict
from rest_framework import serializers

from threads.emojis import EMOJI_MAX_LENGTH, canonical_emoji
from threads.models import MAX_DISTINCT_REACTIONS, Message, Thread
from threads.selectors import message_row_of
from users.errors import no_such_user
from users.serializers import MAX_ID, UserSerializer


class MessageTextField(serializers.CharField):
    """Message text: required, not blank (whitespace alone is blank), at most
    CHAT_MESSAGE_MAX_LENGTH characters, stored exactly as sent (no trimming)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(
            max_length=settings.CHAT_MESSAGE_MAX_LENGTH, trim_whitespace=False, **kwargs
        )

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        if not value.strip():
            self.fail("blank")
        return value


class ReactionSummarySerializer(serializers.Serializer):
    """One emoji on a message: how many people reacted with it, and whether the reader did."""

    emoji = serializers.CharField(help_text="One emoji, fully qualified.")
    count = serializers.IntegerField(min_value=1, help_text="How many people reacted with it.")
    me = serializers.BooleanField(help_text="Whether the reader is one of them.")


class MessageSerializer(serializers.ModelSerializer):
    """A message as every endpoint returns it. A deleted message keeps its place with empty
    `text` and a `deleted` time (and no reactions)."""

    sender_detail = UserSerializer(source="sender", read_only=True)
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
            "reactions",
        ]
        read_only_fields = fields

    def to_representation(self, message: Message) -> dict:
        # The one definition of a message's shape, shared with the values-shaped reads;
        # its reactions as the requester sees them. (The views call the selector directly.)
        return message_row_of(message, reader_id=self.context["request"].user.pk)


class MessageWriteSerializer(serializers.Serializer):
    """What a client may write in a message: its text, and nothing else (sender, thread,
    read state and times are the server's)."""

    text = MessageTextField()


class MessagePostSerializer(MessageWriteSerializer):
    """A new message: its text and, for safe retries, an optional client-chosen id."""

    client_id = serializers.UUIDField(
        required=False,
        help_text="A UUID the client makes for this message. Retrying the POST with the same "
        "client_id returns the message already stored (200) instead of posting it twice.",
    )


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
