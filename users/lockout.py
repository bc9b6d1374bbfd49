"""How django-axes (the login lockout) identifies a client: the username in lower case,
as logins match it (users.backends), and the client address the DRF throttles use."""

from rest_framework.throttling import BaseThrottle


def lockout_username(request, credentials: dict | None) -> str | None:
    """The username an attempt was for, lowercased: "Alice" and "alice" are one account,
    so their failures add up."""
    username = (credentials or {}).get("username")
    if username is None:
        username = request.POST.get("username")
    return username.lower() if isinstance(username, str) else None


def lockout_client_ip(request) -> str:
    """The client's address as the rate limits see it: REMOTE_ADDR, or the address the
    trusted proxies (DJANGO_NUM_PROXIES) put in X-Forwarded-For; a header sent by the
    client itself is never trusted."""
    return BaseThrottle().get_ident(request)
