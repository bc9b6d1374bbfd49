from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from users.models import Block


class RegistrationSerializer(serializers.ModelSerializer):
    """Validates a sign-up: the model's username rules (unique, allowed characters, length)
    and Django's password validators. The password is write-only, never echoed."""

    password = serializers.CharField(
        write_only=True, trim_whitespace=False, max_length=128, style={"input_type": "password"}
    )

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "password"]
        read_only_fields = ["id"]

    def validate_username(self, value: str) -> str:
        if get_user_model().objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError(
                "A user with that username already exists.", code="unique"
            )
        return value

    def validate(self, attrs: dict) -> dict:
        # Password validators compare against the username, so they see an unsaved user.
        candidate = get_user_model()(username=attrs["username"])
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as error:
            raise serializers.ValidationError({"password": list(error.messages)}) from None
        return attrs


class UserSerializer(serializers.ModelSerializer):
    """How the API names a person everywhere: id and username."""

    class Meta:
        model = get_user_model()
        fields = ["id", "username"]
        read_only_fields = fields


class MeSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username", "date_joined"]
        read_only_fields = fields


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(help_text="The refresh token to revoke.")


class BlockSerializer(serializers.ModelSerializer):
    user = UserSerializer(source="blocked", read_only=True)

    class Meta:
        model = Block
        fields = ["user", "created"]
        read_only_fields = fields


class BlockCreateSerializer(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True),
        help_text="Id of the user to block.",
    )
