"""Logging filters (settings.LOGGING)."""

import logging


class ClientErrorFilter(logging.Filter):
    """Log a 4xx answer as one WARNING line, without the traceback Django attaches.

    Django logs a bad Host header or too many form fields as an ERROR with a traceback
    (django.security.*), and a PermissionDenied with one (django.request). Each is the
    client's doing, not a bug, and costs an unauthenticated client one request, so a
    traceback each would let anyone flood the log. The line keeps what matters: the
    reason and the path.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if 400 <= getattr(record, "status_code", 0) < 500:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True
