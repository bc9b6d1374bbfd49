"""drf-spectacular: how the users app's endpoints are described beyond what it infers.

- Our JWTAuthentication (a SimpleJWT subclass) is the HTTP bearer scheme `jwtAuth`, as
  drf-spectacular's built-in extension describes SimpleJWT's own.
- The browser session endpoints (users/browser_session.py) take and set a cookie.
- The examples: alice (id 1) and bob (id 2), as in the README's walk-through, with answers
  as the API gives them.
"""

import base64
import hashlib
import json

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from chat_project.schema import ErrorSerializer, rule_error
from users.browser_session import SESSION_COOKIE_PATH, SESSION_REFRESH_COOKIE
from users.errors import CrossOriginRequest
from users.tokens import SessionCookieMissing


class ChatJWTScheme(SimpleJWTScheme):
    target_class = "users.authentication.JWTAuthentication"


_COOKIE_ATTRIBUTES = f"HttpOnly; Secure; SameSite=Strict; Path={SESSION_COOKIE_PATH}"

SESSION_COOKIE_SENT = OpenApiParameter(
    SESSION_REFRESH_COOKIE,
    str,
    OpenApiParameter.COOKIE,
    description="The session's refresh token, as `POST /api/session/` set it; the browser "
    "sends it by itself (HttpOnly: the page's scripts cannot read it).",
)
SESSION_COOKIE_SET = OpenApiParameter(
    "Set-Cookie",
    str,
    OpenApiParameter.HEADER,
    response=[200],
    description=f"`{SESSION_REFRESH_COOKIE}=<refresh token>; {_COOKIE_ATTRIBUTES}; "
    "Max-Age=<refresh token lifetime, seconds>`: the session's new refresh token.",
)


def session_cookie_deleted(status: int) -> OpenApiParameter:
    return OpenApiParameter(
        "Set-Cookie",
        str,
        OpenApiParameter.HEADER,
        response=[status],
        description=f'`{SESSION_REFRESH_COOKIE}=""; {_COOKIE_ATTRIBUTES}; Max-Age=0`: '
        "deletes the cookie.",
    )


# The refresh and the logout need no body: the refresh token is in the cookie.
NO_BODY_NEEDED = {
    "application/json": {
        "type": "object",
        "description": "Optional: no body at all, or `{}`. The refresh token travels in the "
        f"`{SESSION_REFRESH_COOKIE}` cookie; anything in the body is ignored.",
        "example": {},
    }
}
SESSION_REFRESH_REFUSED = OpenApiResponse(
    ErrorSerializer,
    description="No session cookie, or its refresh token is expired, revoked or malformed "
    "(`token_not_valid`): log in again.",
    examples=[
        OpenApiExample(
            "no cookie",
            value={
                "detail": SessionCookieMissing.default_detail,
                "code": SessionCookieMissing.default_code,
            },
        )
    ],
)
CROSS_ORIGIN = rule_error(
    "The `Origin` header names another origin: refused (a request without `Origin` is allowed).",
    CrossOriginRequest,
)


# --- Examples ---------------------------------------------------------------------------

USER_ALICE = {"id": 1, "username": "alice"}
USER_BOB = {"id": 2, "username": "bob"}
BLOCK = {"user": {"id": 3, "username": "carol"}, "created": "2026-12-02T03:12:40.118737Z"}
PASSWORD = "correct-horse-battery"  # noqa: S105 (the examples' password)
# When the example tokens were issued: the time of the examples' other timestamps.
ISSUED_AT = 1796181159  # 2026-12-02T03:12:39Z


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def example_token(token_type: str, *, lifetime: int, jti: str) -> str:
    """One of alice's tokens as the server issues them (SimpleJWT, HS256: header, claims,
    signature), valid for `lifetime` seconds, its signature made up: no server accepts it."""
    claims = {
        "token_type": token_type,
        "exp": ISSUED_AT + lifetime,
        "iat": ISSUED_AT,
        "jti": jti,
        "user_id": "1",
        "hash_password": "16A56DFC3C5792C0357E2C1B007979E8",
    }
    header = _base64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _base64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = _base64url(hashlib.sha256(f"not a signature {jti}".encode()).digest())
    return f"{header}.{payload}.{signature}"


# The default lifetimes (JWT_ACCESS_TOKEN_MINUTES, JWT_REFRESH_TOKEN_DAYS), so that the
# committed schema does not depend on the environment it was generated in.
ACCESS_LIFETIME, REFRESH_LIFETIME = 15 * 60, 7 * 24 * 3600
ACCESS = example_token("access", lifetime=ACCESS_LIFETIME, jti="44564540f52d4d08bb9427be9d09780d")
REFRESH = example_token(
    "refresh", lifetime=REFRESH_LIFETIME, jti="1dfcab94b5e54877b6f96d5c3ebc22a6"
)
# What a refresh answers: a new access token, and a new refresh token (the old one is spent).
NEW_ACCESS = example_token(
    "access", lifetime=ACCESS_LIFETIME, jti="f09334e882f04c96b94583a6b70dab24"
)
NEW_REFRESH = example_token(
    "refresh", lifetime=REFRESH_LIFETIME, jti="c3f4ba1eb86744a08715e59152d3d050"
)

LOGIN_REQUEST = OpenApiExample(
    "alice logs in",
    value={"username": "alice", "password": PASSWORD},
    request_only=True,
)
TOKEN_PAIR = OpenApiExample(
    "a token pair", value={"refresh": REFRESH, "access": ACCESS}, response_only=True
)
REFRESH_REQUEST = OpenApiExample("a refresh", value={"refresh": REFRESH}, request_only=True)
REFRESHED_PAIR = OpenApiExample(
    "the new pair",
    value={"access": NEW_ACCESS, "refresh": NEW_REFRESH},
    response_only=True,
)
