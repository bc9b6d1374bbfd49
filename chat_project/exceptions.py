"""The project's own errors: what a rule answers when it refuses a request.

Services and selectors raise these, never HTTP or DRF exceptions, so every path that calls
them (REST, the WebSocket, the admin, a shell) is refused alike. Each error names its
answer once: an HTTP status, a stable `code` and the `detail` text people read. They are
turned into answers in one place per protocol: HTTP in `chat_project.errors` (the DRF
exception handler, and a middleware for plain Django views), WebSocket `error` events in
`threads.consumers`.
"""


class ChatError(Exception):
    """A request a rule refuses. Subclasses set `status`, `code` and `detail`."""

    status = 400
    code = "invalid"
    detail = "Invalid request."

    def __init__(self, detail: str | None = None, **context) -> None:
        """`context`: what the error is about (say, `thread=<id>`), sent along in a
        WebSocket `error` event, where a client may have several requests in flight."""
        if detail is not None:
            self.detail = detail
        self.context = context
        super().__init__(self.detail)


class NotFound(ChatError):
    """No such thing, or nothing the requester may see: both answer alike."""

    status = 404
    code = "not_found"
    detail = "Not found."


class PermissionDenied(ChatError):
    status = 403
    code = "permission_denied"
    detail = "You do not have permission to perform this action."


class Conflict(ChatError):
    """The request contradicts what is stored."""

    status = 409
    code = "conflict"


class InvalidField(ChatError):
    """One field of the input breaks a rule only the service can check (a name taken
    meanwhile, a wrong password). Answered as field errors, `{field: [detail]}`."""

    field = "non_field_errors"


class FileTooLarge(ChatError):
    """An uploaded file over ATTACHMENT_MAX_BYTES: refused as it streams in, before it is
    stored (chat_project/uploads.py)."""

    status = 413
    code = "file_too_large"
    detail = "The file is too large: at most {limit} bytes."

    def __init__(self, **context) -> None:
        from django.conf import settings

        super().__init__(self.detail.format(limit=settings.ATTACHMENT_MAX_BYTES), **context)
