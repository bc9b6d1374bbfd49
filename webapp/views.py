"""The chat page. Everything it shows comes from the public API, called by its scripts;
the server only hands out the page and its static files."""

from functools import cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from chat_project.errors import method_not_allowed


@cache
def file_origins() -> str:
    """Where pictures come from besides this server: with object storage, an attachment's
    link redirects to the bucket, which is another origin."""
    parts = urlsplit(default_storage.url("probe"))
    return f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


@cache
def content_security_policy() -> str:
    """The page runs only its own scripts and styles, loads nothing from another origin but
    the attachments' storage, and talks only to this server (fetch and the WebSocket). User
    text is inserted as text by the scripts; this policy is the second wall if that slipped."""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' blob: data:{file_origins()}",
            "connect-src 'self'",
            "manifest-src 'self'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


# No form posts here: any other method is answered 405 as the API answers one (JSON), not
# with the CSRF failure page.
@csrf_exempt
def chat_page(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed(request.method, "GET, HEAD")
    response = render(
        request, "webapp/app.html", {"message_max_length": settings.CHAT_MESSAGE_MAX_LENGTH}
    )
    response["Content-Security-Policy"] = content_security_policy()
    return response
