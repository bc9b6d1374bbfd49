"""How django-axes (the login lockout) identifies a client: the username in lower case,
as logins match it (users.backends), and the client address the DRF throttles use."""

from axes.models import AccessAttempt
from rest_framework.throttling import BaseThrottle

# Axes stores the username of every failed attempt as typed, in a column of this length;
# PostgreSQL refuses a longer value (a 500 on the login). No account's name is this long
# (User.username is 150 at most), so a cut name still locks out exactly what it did.
_USERNAME_MAX_LENGTH = AccessAttempt._meta.get_field("username").max_length


def lockout_username(request, credentials: dict | None) -> str | None:
    """The username an attempt was for, lowercased: "Alice" and "alice" are one account,
    so their failures add up."""
    username = (credentials or {}).get("username")
    if username is None:
        username = request.POST.get("username")
    if not isinstance(username, str):
        return None
    return username.lower()[:_USERNAME_MAX_LENGTH]


def lockout_client_ip(request) -> str:
    """The client's address as the rate limits see it: REMOTE_ADDR, or the address the
    trusted proxies (DJANGO_NUM_PROXIES) put in X-Forwarded-For; a header sent by the
    client itself is never trusted."""
    return BaseThrottle().get_ident(request)
