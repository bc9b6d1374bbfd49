"""SimpleJWT's token serializers, with fixes that matter to clients.

- Passwords are compared exactly as typed. SimpleJWT trims the password field, while
  registration (like Django's own forms) keeps it as sent, so a password with a space at
  either end could register but never log in.
- A refresh token is refused (401) when its user no longer exists (SimpleJWT lets the
  look-up's DoesNotExist escape as a 500) or has changed their password since it was
  issued (SimpleJWT checks that for access tokens only, so a stolen refresh token would
  keep minting access tokens after the victim changed the password).
"""

from django.contrib.auth import get_user_model
from rest_framework import serializers
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password


class LoginSerializer(TokenObtainPairSerializer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password"] = serializers.CharField(write_only=True, trim_whitespace=False)


class RefreshSerializer(TokenRefreshSerializer):
    def validate(self, attrs: dict) -> dict:
        refresh = self.token_class(attrs["refresh"])
        user_id = refresh.payload.get(api_settings.USER_ID_CLAIM)
        user = get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()
        if user is None:
            raise InvalidToken("The user of this token no longer exists.")
        if api_settings.CHECK_REVOKE_TOKEN and refresh.payload.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise AuthenticationFailed(
                "The password has changed since this token was issued.", code="password_changed"
            )
        return super().validate(attrs)
