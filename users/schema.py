"""drf-spectacular: how the users app's endpoints are described beyond what it infers.

- Our JWTAuthentication (a SimpleJWT subclass) is the HTTP bearer scheme `jwtAuth`, as
  drf-spectacular's built-in extension describes SimpleJWT's own.
- The browser session endpoints (users/browser_session.py) take and set a cookie.
"""

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
