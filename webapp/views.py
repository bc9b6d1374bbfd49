"""The chat page. Everything it shows comes from the public API, called by its scripts;
the server only hands out the page and its static files."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

# The page runs only its own scripts and styles, loads nothing from another origin, and
# talks only to this server (fetch and the WebSocket). User text is inserted as text by
# the scripts; this policy is the second wall if that ever slipped.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "connect-src 'self'",
        "font-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


@require_safe
def chat_page(request: HttpRequest) -> HttpResponse:
    response = render(request, "webapp/app.html")
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
