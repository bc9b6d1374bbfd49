from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import get_md5_hash_password

from users.queries import user_by_id


def check_token_user(user, token) -> None:
    """The checks a token's user must pass, for access and refresh tokens alike: the
    account is active, and its password has not changed since the token was issued."""
    if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
        raise AuthenticationFailed("User is inactive", code="user_inactive")
    if api_settings.CHECK_REVOKE_TOKEN and token.get(
        api_settings.REVOKE_TOKEN_CLAIM
    ) != get_md5_hash_password(user.password):
        raise AuthenticationFailed("The user's password has been changed.", code="password_changed")


class JWTAuthentication(authentication.JWTAuthentication):
    """SimpleJWT's bearer authentication, loading the user with a raw query by primary key.

    Every API request loads its user. Compiling `User.objects.get(pk=...)` cost the ORM
    more than the database spent answering it (docs/performance.md), so the one statement
    is written out (`users.queries.user_by_id`); the checks are SimpleJWT's own.
    """

    def get_user(self, validated_token):
        try:
            user_id = int(validated_token[api_settings.USER_ID_CLAIM])
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidToken("Token contained no recognizable user identification") from error
        user = user_by_id(user_id)
        if user is None:
            raise AuthenticationFailed("User not found", code="user_not_found")
        check_token_user(user, validated_token)
        return user


def user_for_access_token(raw_token: str):
    """The active user an access token authenticates, with the token, or (None, None):
    the checks of an HTTP request's bearer token, for clients that cannot send an
    Authorization header (WebSockets, threads/consumers.py)."""
    authentication = JWTAuthentication()
    try:
        token = authentication.get_validated_token(raw_token.encode())
        return authentication.get_user(token), token
    except (InvalidToken, AuthenticationFailed):
        return None, None
