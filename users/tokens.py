"""SimpleJWT's token serializers, with fixes that matter to clients.

- Passwords are compared exactly as typed. SimpleJWT trims the password field, while
  registration (like Django's own forms) keeps it as sent, so a password with a space at
  either end could register but never log in.
- A refresh token is used once, even under concurrent requests. SimpleJWT checks the
  blacklist and then adds to it in two steps, so the same refresh token sent twice at once
  could mint two new ones, and a logout racing a refresh could leave the session alive.
  Here the blacklist row is inserted first and its unique key decides: whoever inserts it
  used the token; everyone else gets 401.
- A login refused by the lockout (django-axes, see settings) is a 429 with `Retry-After`,
  not the 401 of a wrong password, so a client can tell the user to wait.
- A refresh token is refused (401) when its user no longer exists (SimpleJWT lets the
  look-up's DoesNotExist escape as a 500) or has changed their password since it was
  issued (SimpleJWT checks that for access tokens only, so a stolen refresh token would
  keep minting access tokens after the victim changed the password).
"""

from contextlib import suppress

from axes.helpers import get_cool_off
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, Throttled
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from chat_project import metrics
from users.authentication import check_token_user


class LoginLockedOut(Throttled):
    default_detail = "Too many failed logins for this username or from this address."
    default_code = "locked_out"


class SessionCookieMissing(NotAuthenticated):
    """A browser session refresh without the session cookie (users.browser_session)."""

    default_detail = "No session cookie: log in with POST /api/session/."


class LoginSerializer(TokenObtainPairSerializer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["password"] = serializers.CharField(write_only=True, trim_whitespace=False)

    def validate(self, attrs: dict) -> dict:
        try:
            return super().validate(attrs)
        except AuthenticationFailed:
            # django-axes flags the request it refused (or just locked) in authenticate().
            request = self.context.get("request")
            if getattr(request, "axes_locked_out", False):
                cool_off = get_cool_off(request)
                metrics.throttled_requests.labels("login_lockout").inc()
                raise LoginLockedOut(wait=cool_off.total_seconds() if cool_off else None) from None
            raise


@transaction.atomic
def refresh_token_consume(refresh: RefreshToken, user) -> None:
    """Blacklist `refresh` for good, or raise InvalidToken if another request already did."""
    outstanding, _ = OutstandingToken.objects.get_or_create(
        jti=refresh[api_settings.JTI_CLAIM],
        defaults={
            "user": user,
            "created_at": refresh.current_time,
            "token": str(refresh),
            "expires_at": datetime_from_epoch(refresh["exp"]),
        },
    )
    try:
        with transaction.atomic():
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError:
        raise InvalidToken("Token is blacklisted") from None


def _token_user(refresh: RefreshToken):
    user_id = refresh.payload.get(api_settings.USER_ID_CLAIM)
    return get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: user_id}).first()


class RefreshSerializer(TokenRefreshSerializer):
    """`{refresh}` → `{access, refresh}`: the refresh token is consumed and a new one issued."""

    def validate(self, attrs: dict) -> dict:
        refresh = self.token_class(attrs["refresh"])  # checks signature, expiry, blacklist
        user = _token_user(refresh)
        if user is None:
            raise InvalidToken("The user of this token no longer exists.")
        check_token_user(user, refresh)
        refresh_token_consume(refresh, user)
        data = {"access": str(refresh.access_token)}
        refresh.set_jti()
        refresh.set_exp()
        refresh.set_iat()
        refresh.outstand()
        data["refresh"] = str(refresh)
        return data


def refresh_token_revoke(raw: str) -> None:
    """End the session of the refresh token `raw`. One that is malformed, expired or
    already revoked has no session left to end: nothing happens."""
    try:
        refresh = RefreshToken(raw)  # checks signature, expiry, blacklist
    except TokenError:
        return
    with suppress(InvalidToken):  # revoked meanwhile
        refresh_token_consume(refresh, _token_user(refresh))


class LogoutSerializer(serializers.Serializer):
    """`{refresh}`: consume the refresh token, ending the session it belongs to."""

    refresh = serializers.CharField(help_text="The refresh token to revoke.")

    def validate(self, attrs: dict) -> dict:
        refresh = RefreshToken(attrs["refresh"])
        refresh_token_consume(refresh, _token_user(refresh))
        return {}
