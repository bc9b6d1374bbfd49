"""OpenAPI generation: every operation documents the errors it can answer.

The error responses are derived from how each view is configured (authentication, path
parameters, request body, throttles), so the schema stays true as views change; errors
that depend on business rules (403, 409, a 400 on query parameters) are declared on the
view with `extend_schema`. Schemathesis checks the result against the running server.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework_simplejwt.views import TokenViewBase

from chat_project.exceptions import ChatError
from chat_project.pagination import LimitOffsetPagination


class ErrorSerializer(serializers.Serializer):
    """Any error that is not about specific fields."""

    detail = serializers.CharField(help_text="What went wrong, for people.")
    code = serializers.CharField(help_text="A stable code, for programs.")


VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Field errors: each invalid field maps to a list of reasons (or, for a list field, "
        "to its items' errors). Errors about the body as a whole are under `non_field_errors`."
    ),
    "additionalProperties": {},
    "example": {"<field>": ["This field is required."]},
}


def error(description: str, code: str, detail: str) -> OpenApiResponse:
    return OpenApiResponse(
        ErrorSerializer,
        description=description,
        examples=[OpenApiExample(code, value={"detail": detail, "code": code})],
    )


def rule_error(description: str, *refusals: type[ChatError]) -> OpenApiResponse:
    """A documented refusal by one (or more) of the project's rules, its examples built
    from the errors themselves (chat_project.exceptions), so their text exists once."""
    return OpenApiResponse(
        ErrorSerializer,
        description=description,
        examples=[
            OpenApiExample(refusal.code, value={"detail": refusal.detail, "code": refusal.code})
            for refusal in refusals
        ],
    )


def validation_error(description: str = "Invalid input.") -> OpenApiResponse:
    return OpenApiResponse(VALIDATION_ERROR_SCHEMA, description=description)


UNAUTHENTICATED = error(
    "Missing, malformed or expired credentials.",
    "not_authenticated",
    "Authentication credentials were not provided.",
)
NOT_FOUND = error("No such resource, or one the requester may not see.", "not_found", "Not found.")
TOO_LARGE = error(
    "The request body is larger than the server accepts.",
    "request_too_large",
    "Request body too large: at most 65536 bytes are accepted.",
)
UNSUPPORTED_MEDIA_TYPE = error(
    "The body is not JSON.", "unsupported_media_type", 'Unsupported media type "text/plain".'
)
URI_TOO_LONG = OpenApiResponse(
    description="The URL is longer than the server accepts (answered by the server, not JSON)."
)
THROTTLED = OpenApiResponse(
    ErrorSerializer,
    description="Too many requests; retry after the number of seconds in `Retry-After`.",
    examples=[
        OpenApiExample(
            "throttled",
            value={
                "detail": "Request was throttled. Expected available in 42 seconds.",
                "code": "throttled",
            },
        )
    ],
)


class ChatAutoSchema(AutoSchema):
    def _get_paginator(self):
        paginator = super()._get_paginator()
        if isinstance(paginator, LimitOffsetPagination):
            paginator.example_path = self.path
        return paginator

    def _get_request_body(self, direction="request"):
        # drf-spectacular documents bodies for POST, PUT and PATCH only; a view whose DELETE
        # takes one (deleting an account takes the password) says so.
        if self.method == "DELETE" and getattr(self.view, "request_body_on_delete", False):
            self.method = "POST"
            try:
                return super()._get_request_body(direction)
            finally:
                self.method = "DELETE"
        return super()._get_request_body(direction)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status, response in self._derived_errors().items():
            if status not in responses:
                responses[status] = self._get_response_for_code(
                    response, status, direction=direction
                )
        if "429" in responses:
            responses["429"]["headers"] = {
                "Retry-After": {
                    "schema": {"type": "integer"},
                    "description": "Seconds to wait before retrying.",
                }
            }
        return responses

    def _derived_errors(self) -> dict[str, OpenApiResponse]:
        errors: dict[str, OpenApiResponse] = {}
        view = self.view
        if self.method in ("POST", "PUT", "PATCH") or (
            self.method == "DELETE" and getattr(view, "request_body_on_delete", False)
        ):
            errors["400"] = validation_error()
            errors["413"] = TOO_LARGE
            errors["415"] = UNSUPPORTED_MEDIA_TYPE
        authenticates = bool(view.authentication_classes) and any(
            issubclass(permission, IsAuthenticated) for permission in view.permission_classes
        )
        if authenticates or isinstance(view, TokenViewBase):
            errors["401"] = UNAUTHENTICATED
        if "{" in self.path:
            errors["404"] = NOT_FOUND
        if any(
            self.method in getattr(throttle, "throttled_methods", {self.method})
            for throttle in view.throttle_classes
        ):
            errors["429"] = THROTTLED
        # A request line over the server's or proxy's limit is refused before the API
        # sees it (414 from gunicorn's sync workers and most proxies; uvicorn answers a
        # plain 400); a client can only reach that with query strings.
        errors["414"] = URI_TOO_LONG
        return errors
