"""Logging helpers: the formats and filters settings.LOGGING applies (and the servers'
own logging: gunicorn.conf.py, chat_project/devserver.py), and the one-line report of a
burst of failures that an outage would otherwise turn into a line (or a traceback) each."""

import logging
import logging.config
import threading
from datetime import UTC, datetime
from time import monotonic, perf_counter

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as BaseJsonFormatter

from chat_project import request_context

LOG_FORMATS = ("text", "json")
# The text format's lines (gunicorn and uvicorn have their own, kept as they are): the
# request's id in brackets when a request or socket is being served (TextFormatter).
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(served)s %(message)s"

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


class BurstFilter(logging.Filter):
    """Let one record of a kind (its message template and the errors it names) through
    per FAILURE_LOG_INTERVAL in this process; the next one that passes says how many it
    stands for. While the database is down psycopg_pool logs every failed reconnect
    attempt, several a second per process: the outage and its cause are worth a line now
    and then, not one per attempt."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.kinds: dict[tuple, tuple[float, int]] = {}  # kind: (passed at, held)

    def filter(self, record: logging.LogRecord) -> bool:
        # A kind is the template and the errors it names, by class and SQLSTATE: a refused
        # connection, a wrong password (28P01) and too many clients (53300) each get their
        # line. (The whole message would make a kind of each connection's repr.)
        kind = (
            record.msg,
            *(
                (type(arg).__name__, getattr(arg, "sqlstate", None))
                for arg in record.args or ()
                if isinstance(arg, BaseException)
            ),
        )
        with self.lock:
            now = monotonic()
            passed_at, held = self.kinds.get(kind, (None, 0))
            if passed_at is not None and now - passed_at < FAILURE_LOG_INTERVAL:
                self.kinds[kind] = (passed_at, held + 1)
                return False
            self.kinds[kind] = (now, 0)
        if held:
            record.msg = f"{record.getMessage()} ({held} more like it since the last report)"
            record.args = None
        return True


def log_format(value: str | None) -> str:
    """LOG_FORMAT's value, checked: "text" (the default) or "json"."""
    value = (value or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {value!r}")
    return value


def configure_json_logging(config: dict) -> None:
    """settings.LOGGING_CONFIG under LOG_FORMAT=json: Python's warnings (a deprecation, a
    missing static folder) are logged too, on `py.warnings`, rather than written to stderr
    as lines of their own."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT's readable lines, with the request id (and user id once known) of the
    request or socket being served: `... django.request [5f0c2e8a...] Not Found: /x`."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        context = request_context.current()
        if context is None:
            served = ""
        elif context.user_id is None:
            served = f" [{context.request_id}]"
        else:
            served = f" [{context.request_id} user {context.user_id}]"
        # The record itself is left as it is, for any other handler that formats it.
        return TEXT_FORMAT % {**record.__dict__, "served": served}


class JsonFormatter(BaseJsonFormatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message (on one
    line), the request id and user id of the request being served (null outside one),
    then the record's own extra fields (an exception's traceback as `exc_info`, a 4xx
    answer's `status_code`, the access line's method, path, status...)."""

    # Not written out: Django's HttpRequest (`log_response` attaches it: the path is in
    # the message) and uvicorn's coloured copy of its message.
    LEFT_OUT = ("request", "color_message")
    # Written by add_fields, whatever extra fields a record carries under these names.
    OWN = ("time", "level", "logger", "request_id", "user_id")

    def __init__(self) -> None:
        # No format: add_fields writes the fields, in this order.
        super().__init__(
            [], reserved_attrs=[*RESERVED_ATTRS, "taskName", *self.LEFT_OUT, *self.OWN]
        )

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        message = record.message
        if "\n" in message:
            message = " ".join(message.split())
        context = request_context.current()
        log_data["time"] = (
            datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = message
        log_data["request_id"] = context and context.request_id
        log_data["user_id"] = context and context.user_id
        super().add_fields(log_data, record, message_dict)


class AccessLogFields(logging.Filter):
    """Give uvicorn's access line (`'%s - "%s %s HTTP/%s" %d'`: client, method, path,
    HTTP version, status) its parts as fields of their own, for the JSON format, and the
    time from the request's arrival at the ASGI entry to its answer's start."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            record.client, record.method, record.path, _, record.status = record.args
            context = request_context.current()
            if context is not None:
                record.duration_ms = round((perf_counter() - context.started) * 1000, 1)
        return True


def gunicorn_json_log_config(accesslog: str | None) -> dict:
    """gunicorn's `logconfig_dict` for LOG_FORMAT=json: its error log (stderr) and access
    log (`accesslog`: "-" for stdout, a file, or None for none) as JSON lines. The uvicorn
    workers log through the same handlers (uvicorn_worker hands them over)."""
    access_handler = {"formatter": "json", "filters": ["access_fields"]}
    if accesslog == "-":
        access_handler |= {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"}
    else:
        access_handler |= {"class": "logging.FileHandler", "filename": accesslog}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "filters": {"access_fields": {"()": AccessLogFields}},
        "handlers": {
            "error": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
            **({"access": access_handler} if accesslog else {}),
        },
        "root": {"handlers": ["error"]},
        "loggers": {
            # No level: gunicorn's --log-level stays in charge.
            "gunicorn.error": {"handlers": ["error"], "propagate": False},
            "gunicorn.access": {"handlers": ["access"] if accesslog else [], "propagate": False},
        },
    }


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
