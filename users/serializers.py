from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from chat_project.ids import MAX_ID
from users.errors import UsernameTaken, WrongPassword, no_such_user
from users.models import DELETED_USERNAME_PREFIX, Block


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
        # Deleted accounts are renamed `deleted-<id>` (users.services.user_delete).
        if value.lower().startswith(DELETED_USERNAME_PREFIX):
            raise serializers.ValidationError(
                f"Usernames starting with {DELETED_USERNAME_PREFIX!r} are reserved.",
                code="reserved",
            )
        if get_user_model().objects.filter(username__iexact=value).exists():
            raise serializers.ValidationError(UsernameTaken.detail, code=UsernameTaken.code)
        return value

    def validate(self, attrs: dict) -> dict:
        # Password validators compare against the username, so they see an unsaved user.
        candidate = get_user_model()(username=attrs["username"])
        try:
            validate_password(attrs["password"], user=candidate)
        except DjangoValidationError as error:
            raise serializers.ValidationError({"password": list(error.messages)}) from None
        return attrs


class CurrentPasswordField(serializers.CharField):
    """The requester's password, as typed: checked against their account."""

    def __init__(self, **kwargs) -> None:
        super().__init__(
            write_only=True,
            trim_whitespace=False,
            max_length=128,
            style={"input_type": "password"},
            help_text="Your password as it is now.",
            **kwargs,
        )

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        if not self.context["request"].user.check_password(value):
            raise serializers.ValidationError(WrongPassword.detail, code=WrongPassword.code)
        return value


class PasswordChangeSerializer(serializers.Serializer):
    """`{current_password, new_password}`: the new one passes Django's password validators."""

    current_password = CurrentPasswordField()
    new_password = serializers.CharField(
        write_only=True, trim_whitespace=False, max_length=128, style={"input_type": "password"}
    )

    def validate_new_password(self, value: str) -> str:
        try:
            validate_password(value, user=self.context["request"].user)
        except DjangoValidationError as error:
            raise serializers.ValidationError(list(error.messages)) from None
        return value


class AccountDeleteSerializer(serializers.Serializer):
    """`{current_password}`: deleting the account takes the password, not just a token."""

    current_password = CurrentPasswordField()


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField(read_only=True)
    refresh = serializers.CharField(read_only=True)


class SessionAccessSerializer(serializers.Serializer):
    """A browser session's answer: the access token; the refresh token is in the cookie."""

    access = serializers.CharField(read_only=True)


class UserSerializer(serializers.ModelSerializer):
    """How the API names a person everywhere: id and username. A deleted account keeps its
    id and is named `deleted-<id>`."""

    class Meta:
        model = get_user_model()
        fields = ["id", "username"]
        read_only_fields = fields


class MeSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username", "date_joined"]
        read_only_fields = fields


class BlockSerializer(serializers.ModelSerializer):
    user = UserSerializer(source="blocked", read_only=True)

    class Meta:
        model = Block
        fields = ["user", "created"]
        read_only_fields = fields


class BlockCreateSerializer(serializers.Serializer):
    user = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text="Id of the user to block."
    )

    def validate_user(self, user_id: int):
        user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
        if user is None:
            raise serializers.ValidationError(no_such_user(user_id), code="does_not_exist")
        return user


class SearchQuerySerializer(serializers.Serializer):
    """`?search=`: optional text to look for; blank means no filter."""

    search = serializers.CharField(required=False, allow_blank=True, max_length=200)
