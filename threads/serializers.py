"""Validation of input and the shape of output. No queries per row: everything a row
shows comes from the selectors' annotations and prefetches."""

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework import serializers

from threads.models import Message, Thread

# The largest id a database integer key can hold; larger numbers cannot name a user.
MAX_ID = 2**63 - 1


class MessageSerializer(serializers.ModelSerializer):
    """A message as every endpoint returns it. Only `text` is ever written by a client."""

    text = serializers.CharField(
        max_length=settings.CHAT_MESSAGE_MAX_LENGTH,
        # Text is stored exactly as sent; a message of nothing but whitespace is still blank.
        trim_whitespace=False,
    )

    class Meta:
        model = Message
        fields = ["id", "thread", "sender", "text", "created", "is_read"]
        read_only_fields = ["id", "thread", "sender", "created", "is_read"]

    def validate_text(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.", code="blank")
        return value


class ThreadSerializer(serializers.ModelSerializer):
    """A row of the thread list, for the requester (see `selectors.thread_list_for`)."""

    participants = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    last_message = serializers.SerializerMethodField()
    unread_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Thread
        fields = ["id", "participants", "created", "updated", "last_message", "unread_count"]
        read_only_fields = fields

    def get_last_message(self, thread: Thread) -> dict | None:
        latest = thread.latest  # prefetched by the selector
        return MessageSerializer(latest[0]).data if latest else None


class ThreadCreateSerializer(serializers.Serializer):
    """`{participants: [ids]}` naming the requester and one other user, or just the other.

    Validated into `other`, the user the requester will talk to.
    """

    participants = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
        allow_empty=False,
        max_length=2,
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
        other = get_user_model().objects.filter(pk=other_id, is_active=True).first()
        if other is None:
            raise serializers.ValidationError(
                {"participants": [f"User {other_id} does not exist."]}, code="does_not_exist"
            )
        attrs["other"] = other
        return attrs
