"""One error shape for every 4xx the API answers.

- Validation errors: DRF's field-error dict, `{"field": ["reason", ...]}`, with
  `non_field_errors` for errors about the body as a whole.
- Everything else: `{"detail": "reason", "code": "stable_machine_code"}`.

Django-level errors (an unknown URL, a bad Host header, a server error) get the same
`{detail, code}` JSON from the handlers below instead of an HTML page.
"""

from django.http import HttpRequest, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
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


def json_error(detail: str, code: str, status: int) -> JsonResponse:
    return JsonResponse(
        {"detail": detail, "code": code},
        status=status,
        json_dumps_params={"separators": (",", ":")},  # as compact as DRF's
    )


def request_too_large(limit: int) -> JsonResponse:
    """413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE (the middleware and the ASGI entry)."""
    return json_error(
        f"Request body too large: at most {limit} bytes are accepted.", "request_too_large", 413
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
