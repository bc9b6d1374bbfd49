import threading

from django.core.signals import setting_changed
from django.dispatch import receiver
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow, get_md5_hash_password

from chat_project import request_context
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


class VerifiedTokens:
    """The raw tokens whose signature and claims SimpleJWT has verified, with what that
    decoding gave (the token class, the payload, and SimpleJWT's token backend), so that a
    client's next requests with the same token skip decoding it again: decoding is a
    large share of a small request's time, a cached token a small fraction of that
    (docs/performance.md, `bench/breakdown.py --compare`). Bounded (the oldest go first),
    per process, shared by its threads.

    Only the outcome of checks that a later moment cannot undo is kept: the signature,
    and claims that only become valid with time (issued-at, not-before). Expiry is checked
    on every request (`JWTAuthentication.get_validated_token`), as is the token's own
    `verify()` (expiry again, id, type); the user's checks run on every request too.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: dict[bytes, tuple] = {}
        self.lock = threading.Lock()

    def get(self, raw_token: bytes) -> tuple | None:
        return self.entries.get(raw_token)

    def add(self, raw_token: bytes, token: Token) -> None:
        entry = (type(token), token.payload.copy(), int(token["exp"]), token.token_backend)
        with self.lock:
            while len(self.entries) >= self.size:
                self.entries.pop(next(iter(self.entries)), None)
            self.entries[raw_token] = entry

    def discard(self, raw_token: bytes) -> None:
        self.entries.pop(raw_token, None)

    def clear(self) -> None:
        self.entries.clear()


verified_tokens = VerifiedTokens(size=1024)


@receiver(setting_changed)
def _forget_verified_tokens(*, setting: str, **kwargs) -> None:
    if setting in ("SIMPLE_JWT", "SECRET_KEY"):  # tests: another key verifies differently
        verified_tokens.clear()


def _still_valid(entry: tuple, raw_token: bytes) -> Token | None:
    """A token of the cached decoding of `raw_token`, or None when it no longer passes:
    expired by PyJWT's measure (the full decoding then answers with its own error), or
    refused by the token class's own per-request checks (`verify`)."""
    token_class, payload, expiry, backend = entry
    now = aware_utcnow()
    if expiry <= now.timestamp() - backend.get_leeway().total_seconds():
        return None
    # What Token.__init__ sets before it verifies, without decoding again.
    token = token_class.__new__(token_class)
    token.token, token.current_time, token.payload = raw_token, now, payload.copy()
    token._token_backend = backend
    try:
        token.verify()
    except TokenError:
        return None
    return token


class JWTAuthentication(authentication.JWTAuthentication):
    """SimpleJWT's bearer authentication, loading the user with a raw query by primary key,
    and decoding each token once per process (`VerifiedTokens`).

    Every API request loads its user. Compiling `User.objects.get(pk=...)` cost the ORM
    more than the database spent answering it (docs/performance.md), so the one statement
    is written out (`users.queries.user_by_id`); the checks are SimpleJWT's own, on every
    request.
    """

    def authenticate(self, request):
        authenticated = super().authenticate(request)
        if authenticated is not None:
            # The request's log lines name its user from here on (chat_project/logs.py).
            request_context.set_user_id(authenticated[0].pk)
        return authenticated

    def get_validated_token(self, raw_token: bytes) -> Token:
        entry = verified_tokens.get(raw_token)
        if entry is not None:
            token = _still_valid(entry, raw_token)
            if token is not None:
                return token
            verified_tokens.discard(raw_token)
        token = super().get_validated_token(raw_token)
        verified_tokens.add(raw_token, token)
        return token

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
