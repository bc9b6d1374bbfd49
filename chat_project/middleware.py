from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from chat_project.errors import database_unavailable, is_database_unavailable, request_too_large


class RequestBodyLimitMiddleware:
    """Refuse a request whose declared body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE, with
    413, before anything reads it.

    Django enforces that limit only when `request.body` is read; DRF's parsers read the
    stream instead, so without this an oversized JSON body would be parsed in full. A body
    sent without Content-Length is read as empty by Django's WSGI request, so the header is
    the whole story.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            return request_too_large(limit)
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """Answer 503 instead of 500 when a view fails because the database cannot be reached.

    Covers every view: DRF's (their authentication included: DRF hands exceptions it does
    not know back to Django) and plain Django ones such as the admin. Handled here, an
    outage does not reach Django's "Internal Server Error" path (a traceback logged per
    request, got_request_exception sent to error trackers).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_unavailable(exception):
            return database_unavailable(request, exception)
        return None
