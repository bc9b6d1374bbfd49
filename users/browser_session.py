"""Browser sessions: the refresh token in a cookie the page's scripts cannot read (README,
"Browser sessions: the refresh token in a cookie").

The chat page keeps only its short-lived access token, in memory. Its refresh token is an
HttpOnly cookie, so a script injected into the page (XSS) can act while it runs but cannot
carry the session away. Secure keeps it off plain HTTP (browsers count http://localhost and
http://127.0.0.1 as secure, so `make run` works). SameSite=Strict keeps it off requests
started by other sites, and its path off every request but the session endpoints'. What
SameSite cannot stop, a page of another origin on the same site (another port, a sibling
subdomain), the Origin check and the JSON-only bodies refuse.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponseBase
from django.utils.http import is_same_domain
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.settings import api_settings

from users.errors import CrossOriginRequest

SESSION_REFRESH_COOKIE = "chat_refresh"
# The session endpoints, and nothing else, receive the cookie.
SESSION_COOKIE_PATH = "/api/session/"


def session_cookie_set(response: HttpResponseBase, refresh: str | None) -> None:
    """Give the browser `refresh` as its session cookie, or, with None, delete the cookie
    (the same name and path, expired)."""
    response.set_cookie(
        SESSION_REFRESH_COOKIE,
        refresh or "",
        max_age=int(api_settings.REFRESH_TOKEN_LIFETIME.total_seconds()) if refresh else 0,
        path=SESSION_COOKIE_PATH,
        secure=True,
        httponly=True,
        samesite="Strict",
    )


def session_response(pair: dict[str, str]) -> Response:
    """The answer that opens or renews a browser session from a token pair: the access
    token in the body, the refresh token in the cookie only."""
    response = Response({"access": pair["access"]})
    session_cookie_set(response, pair["refresh"])
    return response


def session_refresh_token(request: Request) -> str | None:
    """The refresh token in the request's session cookie, if it has one."""
    return request.COOKIES.get(SESSION_REFRESH_COOKIE) or None


def session_request_check(request: Request) -> None:
    """Refuse what only a page of another origin would make a browser send: an `Origin`
    that is not this server's (403), a body that is not JSON (415: an HTML form can only
    send form encodings or text, even an empty one). Browsers send `Origin` with every
    POST, so a request without one is not from a page (curl, a script) and is allowed."""
    origin = request.headers.get("Origin")
    if origin is not None and not _origin_trusted(request, origin):
        raise CrossOriginRequest
    if request.content_type and request.negotiator.select_parser(request, request.parsers) is None:
        raise UnsupportedMediaType(request.content_type)
    # Parsed now, so that a malformed body is a 400 here as everywhere else.
    request.data  # noqa: B018


def _origin_trusted(request: Request, origin: str) -> bool:
    """Whether `origin` is this server's own (scheme and host, as the request came in) or
    one CSRF_TRUSTED_ORIGINS names, `https://*.example.com` for any subdomain: the rule
    of Django's CSRF origin check."""
    if origin == f"{request.scheme}://{request.get_host()}":
        return True
    trusted = settings.CSRF_TRUSTED_ORIGINS
    if origin in trusted:
        return True
    try:
        parsed = urlsplit(origin)
    except ValueError:
        return False
    wildcards = [urlsplit(entry) for entry in trusted if "*" in entry]
    return any(
        pattern.scheme == parsed.scheme
        and is_same_domain(parsed.netloc, pattern.netloc.lstrip("*"))
        for pattern in wildcards
    )
