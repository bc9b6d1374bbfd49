import logging
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.log import log_response

from chat_project import health, request_context
from chat_project.errors import (
    RETRY_AFTER_SECONDS,
    chat_error_response,
    database_unavailable,
    is_database_unavailable,
    method_not_allowed,
    request_too_large,
)
from chat_project.exceptions import ChatError
from chat_project.http_guards import body_over_limit

health_logger = logging.getLogger("chat_project.health")


class RequestIdMiddleware:
    """Give every request an id, in the response's X-Request-ID and in every line logged
    while answering it: the client's X-Request-ID when it is sane, else a new one
    (chat_project/request_context.py).

    Under the ASGI entry the context was started on the event loop (its access line and
    its early answers carry the same id): it is taken over here. The context outlives this
    call on purpose: Django logs a 4xx/5xx answer after the middleware chain returns, and
    forgets the context only when the response is closed (`request_finished`).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        context = request_context.current()
        if context is None or context.claimed:
            context = request_context.start(request.META.get("HTTP_X_REQUEST_ID"))
        context.claimed = True
        response = self.get_response(request)
        response[request_context.REQUEST_ID_HEADER] = context.request_id
        return response


class SessionUserMiddleware:
    """Name the user of a request signed in by its session (the admin's moderators) in
    its log lines, as JWTAuthentication does for the API's (users/authentication.py).
    Only a request carrying a session cookie is looked at: the API's never load one."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            try:
                if request.user.is_authenticated:  # the session's and the user's queries
                    request_context.set_user_id(request.user.pk)
            except (OperationalError, InterfaceError) as error:
                # A middleware's error never reaches ErrorAnswerMiddleware: answered here
                # as it would answer it (503 in an outage).
                if is_database_unavailable(error):
                    return database_unavailable(request, error)
                raise
        return self.get_response(request)


class RequestBodyLimitMiddleware:
    """Refuse a request whose declared body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE (on
    the upload route, a file of ATTACHMENT_MAX_BYTES), with 413, before anything reads it.

    Django enforces that limit only when `request.body` is read; DRF's parsers read the
    stream instead, so without this an oversized JSON body would be parsed in full. A body
    sent without Content-Length is read as empty by Django's WSGI request, so the header is
    the whole story. (Under `make serve` the ASGI entry applies the same limit first, as
    the body arrives: chat_project/asgi.py.)
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if body_over_limit(length, request.path_info):
            return request_too_large(request.path_info)
        return self.get_response(request)


class ErrorAnswerMiddleware:
    """Answer the errors a view outside DRF's exception handler lets through.

    - The database cannot be reached: 503, not 500. Covers every view: DRF's (their
      authentication included: DRF hands exceptions it does not know back to Django) and
      plain Django ones such as the admin. Handled here, an outage does not reach Django's
      "Internal Server Error" path (a traceback logged per request, got_request_exception
      sent to error trackers).
    - One of the project's own errors (`chat_project.exceptions`) raised under a plain
      Django view (the admin calling a service): the answer DRF's views give it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_unavailable(exception):
            return database_unavailable(request, exception)
        if isinstance(exception, ChatError):
            return chat_error_response(exception)
        return None


class HealthCheckMiddleware:
    """Answer the load balancer's probes, `/healthz` (liveness) and `/readyz` (readiness),
    with or without a trailing slash, before any other middleware.

    First in MIDDLEWARE, so that the probes are answered whatever their Host header (a
    kubelet or load balancer addresses the pod's IP, which ALLOWED_HOSTS does not list),
    over plain HTTP (no HTTPS redirect), without credentials, sessions or rate limits.
    Only these two paths skip those checks, and they reveal nothing but "ok" or which
    dependency is unavailable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.probes = {"/healthz": self.liveness, "/readyz": self.readiness}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = self.probes.get(request.path_info.removesuffix("/"))
        if probe is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            response = method_not_allowed(request.method, "GET, HEAD")
        else:
            response = probe(request)
        response["Cache-Control"] = "no-store"
        return response

    def liveness(self, request: HttpRequest) -> HttpResponse:
        # Under `make serve` the ASGI entry answers this first, on the event loop (asgi.py).
        return _compact_json({"status": "ok"})

    def readiness(self, request: HttpRequest) -> HttpResponse:
        checks, errors = health.readiness()
        if not errors:
            return _compact_json({"status": "ok", "checks": checks})
        response = _compact_json({"status": "unavailable", "checks": checks}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        # One WARNING line per failed probe, naming what failed and why; log_response marks
        # the response logged, so Django does not log the 503 again as an error.
        log_response(
            "Not ready (%s): %s",
            "; ".join(
                f"{name}: {type(error).__name__}: {' '.join(str(error).split())}"
                for name, error in errors.items()
            ),
            request.path,
            response=response,
            request=request,
            logger=health_logger,
            level="warning",
        )
        return response


def _compact_json(data: dict, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, json_dumps_params={"separators": (",", ":")})
