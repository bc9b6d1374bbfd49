"""Logging helpers: the filter settings.LOGGING applies, and the one-line report of a
burst of failures that an outage would otherwise turn into a line (or a traceback) each."""

import logging
import threading
from time import monotonic

# Seconds between two log lines about the same kind of failure, per process.
FAILURE_LOG_INTERVAL = 10.0


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


class SingleLineFilter(logging.Filter):
    """Fold a record's message onto one line. psycopg's errors span lines ("connection
    failed: ... \n\tIs the server running ..."), and psycopg_pool logs one per reconnect
    attempt while the database is down: one line each keeps the log readable."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "\n" in message:
            record.msg, record.args = " ".join(message.split()), None
        return True


class FailureLog:
    """One WARNING line per burst of failures: at most one every FAILURE_LOG_INTERVAL
    seconds in this process, saying what happened (`problem`), how many `what` since the
    previous line, and the last error, without a traceback. Safe from any thread."""

    def __init__(self, logger: logging.Logger, problem: str, what: str) -> None:
        self.logger = logger
        self.problem = problem
        self.what = what
        self.lock = threading.Lock()
        self.count = 0
        self.logged_at: float | None = None

    def failed(self, error: BaseException, count: int = 1) -> None:
        with self.lock:
            self.count += count
            now = monotonic()
            if self.logged_at is not None and now - self.logged_at < FAILURE_LOG_INTERVAL:
                return
            count, self.count, self.logged_at = self.count, 0, now
        self.logger.warning(
            "%s: %d %s since the last report (one report per %g s at most): %s: %s",
            self.problem,
            count,
            self.what,
            FAILURE_LOG_INTERVAL,
            type(error).__name__,
            error,
        )
