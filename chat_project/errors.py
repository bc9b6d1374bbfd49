"""One error shape for every 4xx the API answers.

- Validation errors: DRF's field-error dict, `{"field": ["reason", ...]}`, with
  `non_field_errors` for errors about the body as a whole.
- Everything else: `{"detail": "reason", "code": "stable_machine_code"}`.

Django-level errors (an unknown URL, a bad Host header, a server error) get the same
`{detail, code}` JSON from the handlers below instead of an HTML page.

A database that cannot be reached is a 503 (`database_unavailable`), not a 500: the
request was fine and is worth retrying, and an outage is not a bug to log a traceback for.
"""

import logging
import sqlite3

import psycopg
import psycopg_pool
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse
from django.utils.log import log_response
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from chat_project.exceptions import ChatError, FileTooLarge, InvalidField
from chat_project.http_guards import is_upload


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ChatError):
        exc = as_api_exception(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        if not isinstance(response.data, dict):
            response.data = {"non_field_errors": response.data}
        return response
    data = response.data
    if isinstance(data, dict) and "detail" in data and "code" not in data:
        detail = data["detail"]
        data["code"] = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    return response


def as_api_exception(error: ChatError) -> exceptions.APIException:
    """The HTTP answer to one of the project's own errors, as DRF's exception."""
    if isinstance(error, InvalidField):
        return exceptions.ValidationError({error.field: [error.detail]}, code=error.code)
    answer = exceptions.APIException(error.detail, error.code)
    answer.status_code = error.status
    return answer


def chat_error_response(error: ChatError) -> JsonResponse:
    """The same answer from a view outside DRF (the admin's, through
    `chat_project.middleware.ErrorAnswerMiddleware`)."""
    if isinstance(error, InvalidField):
        return JsonResponse(
            {error.field: [error.detail]},
            status=error.status,
            json_dumps_params={"separators": (",", ":")},
        )
    return json_error(error.detail, error.code, error.status)


def json_error(detail: str, code: str, status: int) -> JsonResponse:
    return JsonResponse(
        {"detail": detail, "code": code},
        status=status,
        json_dumps_params={"separators": (",", ":")},  # as compact as DRF's
    )


def method_not_allowed(method: str, allowed: str) -> JsonResponse:
    """A 405 outside DRF's views, as DRF answers one, with the methods allowed."""
    response = json_error(f'Method "{method}" not allowed.', "method_not_allowed", 405)
    response["Allow"] = allowed
    return response


def request_too_large(path: str = "") -> JsonResponse:
    """413 for a body over its limit (`http_guards.body_over_limit`): on the upload route,
    the answer to a file that is too large."""
    if is_upload(path):
        return chat_error_response(FileTooLarge())
    return json_error(
        f"Request body too large: at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes are "
        "accepted.",
        "request_too_large",
        413,
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error("Bad request.", "bad_request", 400)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error(
        "You do not have permission to perform this action.", "permission_denied", 403
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return json_error("Not found.", "not_found", 404)


def server_error(request: HttpRequest) -> JsonResponse:
    return json_error("Server error.", "server_error", 500)


# Seconds a client is told to wait before trying again when the service is unavailable.
RETRY_AFTER_SECONDS = 5

# PostgreSQL error classes that mean the server cannot serve anyone right now: the
# connection failed (08), it lacks resources, e.g. too many connections (53), or it is
# shutting down or starting up (57P01-57P03). Other errors, including other
# OperationalErrors the server answers with (a cancelled statement, a deadlock), are about
# the statement, not the server.
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03")
# SQLite reports query bugs ("no such table") as OperationalError too; these are the
# messages that mean the database file cannot be used right now.
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database file", "disk i/o error")

logger = logging.getLogger("chat_project.database")


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached (refused, lost, pool exhausted,
    shutting down), as opposed to a query that is wrong.

    Django raises its own OperationalError or InterfaceError with the driver's error as
    the cause; the cause says which it is. Without a recognisable cause it is not treated
    as an outage, so a bug is never hidden behind a 503.
    """
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    cause = exc.__cause__
    if isinstance(cause, psycopg_pool.PoolTimeout | psycopg_pool.PoolClosed):
        return True
    if isinstance(cause, psycopg.InterfaceError):
        return True  # the connection is closed or unusable
    if isinstance(cause, psycopg.OperationalError):
        # No SQLSTATE: the server never answered (refused, lost in the middle).
        return cause.sqlstate is None or cause.sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
    if isinstance(cause, sqlite3.OperationalError):
        return str(cause).lower().startswith(_SQLITE_UNAVAILABLE)
    return False


def service_unavailable(detail: str) -> JsonResponse:
    response = json_error(detail, "service_unavailable", 503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def database_unavailable(request: HttpRequest, exc: Exception) -> JsonResponse:
    """503 for a request the database could not serve, logged as one WARNING line that
    names the error: during an outage every request fails the same way, and a traceback
    each would bury the log without saying more."""
    response = service_unavailable(
        "The service is temporarily unavailable: the database cannot be reached."
    )
    # log_response marks the response as logged, so Django does not log it again as an
    # error ("Service Unavailable: /path").
    error = type(exc).__name__
    if exc.__cause__ is not None:  # the driver's error, e.g. psycopg_pool's PoolTimeout
        error += f" from {type(exc.__cause__).__name__}"
    log_response(
        "Database unavailable (%s: %s): %s %s",
        error,
        " ".join(str(exc).split()),  # psycopg's messages span lines
        request.method,
        request.path,
        response=response,
        request=request,
        logger=logger,
        level="warning",
    )
    return response
