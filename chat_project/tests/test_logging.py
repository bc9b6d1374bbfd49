"""What a client's mistake writes to the log: one WARNING line, never a traceback.

A traceback is for a bug to fix; a 4xx is the client's doing, and anyone can cause as many
as they like, so each must stay one line.
"""

import io
import logging
from datetime import datetime, timedelta

import psycopg
import pytest
from django.test import Client

from chat_project import logs
from chat_project.logs import BurstFilter, TextFormatter, log_format
from threads import views as threads_views

pytestmark = pytest.mark.django_db


def warnings_and_worse(caplog):
    return [record for record in caplog.records if record.levelno >= logging.WARNING]


def test_a_bad_host_header_is_a_400_logged_as_one_warning_line(anon_client, caplog):
    response = anon_client.get("/api/threads/", HTTP_HOST="attacker.example")

    assert response.status_code == 400
    assert response.json() == {"detail": "Bad request.", "code": "bad_request"}
    [record] = warnings_and_worse(caplog)
    assert record.name == "django.security.DisallowedHost"
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "attacker.example" in record.getMessage()


def test_too_many_form_fields_is_a_400_logged_as_one_warning_line(caplog):
    # Anyone can post this to the admin's login page: Django refuses it as suspicious.
    body = "&".join(f"f{i}=x" for i in range(1001))
    response = Client().post(
        "/admin/login/", body, content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 400
    [record] = warnings_and_worse(caplog)
    assert record.name == "django.security.TooManyFieldsSent"
    assert record.levelno == logging.WARNING
    assert record.exc_info is None


@pytest.mark.parametrize(
    ("path", "method", "status"),
    [
        ("/no/such/page", "get", 404),
        ("/api/threads/999999/", "get", 404),
        ("/api/threads/", "put", 405),
        ("/api/token/", "put", 405),
        ("/admin/threads/thread/add/", "get", 403),  # moderators never add threads
        ("/admin/threads/message/add/", "get", 403),
    ],
)
def test_an_expected_client_error_logs_one_warning_without_traceback(
    admin_user, alice_client, caplog, path, method, status
):
    client = alice_client
    if path.startswith("/admin/"):
        client = Client()
        client.force_login(admin_user)

    response = getattr(client, method)(path)

    assert response.status_code == status
    [record] = warnings_and_worse(caplog)
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert path in record.getMessage()


RECONNECT_FAILED = (
    'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
    "Connection refused\n\tIs the server running on that host and accepting TCP/IP "
    "connections?"
)


@pytest.fixture
def pool_log(caplog, monkeypatch):
    """Logs as psycopg_pool does on a failed reconnect attempt, at a given second of this
    process's clock, through the filters settings.LOGGING gives its logger (their state
    fresh). What comes through is in `caplog.records`."""
    pool_logger = logging.getLogger("psycopg.pool")
    for log_filter in pool_logger.filters:
        if isinstance(log_filter, BurstFilter):
            monkeypatch.setattr(log_filter, "kinds", {})
    clock = [1000.0]
    monkeypatch.setattr(logs, "monotonic", lambda: clock[0])

    def attempt_failed(at: float, error: Exception | str = RECONNECT_FAILED) -> None:
        clock[0] = 1000.0 + at
        with caplog.at_level(logging.WARNING, logger="psycopg.pool"):
            pool_logger.warning("error connecting in %r: %s", "pool-1", error)

    return attempt_failed


def test_a_failed_reconnect_attempt_is_logged_on_one_line(pool_log, caplog):
    # psycopg's errors span lines.
    pool_log(at=0)

    [record] = caplog.records
    assert "\n" not in record.getMessage()
    assert record.getMessage().endswith(
        "Is the server running on that host and accepting TCP/IP connections?"
    )


def test_an_outages_reconnect_attempts_are_logged_once_per_burst_with_their_number(
    pool_log, caplog
):
    for second in (0, 1, 2, 3, 9):  # the pool retries several times a second
        pool_log(at=second)
    pool_log(at=10.5)

    first, second = caplog.records
    assert "more like it" not in first.getMessage()
    assert second.getMessage().endswith(
        "accepting TCP/IP connections? (4 more like it since the last report)"
    )


def test_each_cause_of_failed_reconnect_attempts_gets_its_line(pool_log, caplog):
    refused = psycopg.OperationalError("connection failed: Connection refused")
    wrong_password = psycopg.errors.InvalidPassword("password authentication failed")

    pool_log(at=0, error=refused)
    pool_log(at=1, error=wrong_password)
    pool_log(at=2, error=refused)
    pool_log(at=3, error=wrong_password)

    refused_line, wrong_password_line = caplog.records
    assert refused_line.getMessage().endswith("Connection refused")
    assert wrong_password_line.getMessage().endswith("password authentication failed")


@pytest.fixture
def text_log():
    """What the application logs during the test, in the text format: the lines so far."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(TextFormatter())
    logging.getLogger().addHandler(handler)
    try:
        yield lambda: output.getvalue().splitlines()
    finally:
        logging.getLogger().removeHandler(handler)


def test_in_text_a_line_names_its_request_and_user(alice, alice_client, anon_client, text_log):
    mine = alice_client.get("/api/threads/999999/")
    anonymous = anon_client.get("/api/threads/")
    logging.getLogger("chat_project").warning("Outside any request")

    first, second, third = text_log()
    assert first.endswith(
        f" WARNING django.request [{mine['X-Request-ID']} user {alice.pk}] "
        "Not Found: /api/threads/999999/"
    )
    assert second.endswith(
        f" WARNING django.request [{anonymous['X-Request-ID']}] Unauthorized: /api/threads/"
    )
    assert third.endswith(" WARNING chat_project Outside any request")


# LOG_FORMAT=json: one JSON object per line (the `json_log` fixture parses each line).


def test_in_json_a_client_error_is_one_object_naming_the_request_and_its_user(
    alice, alice_client, json_log
):
    response = alice_client.get("/api/threads/999999/")

    assert response.status_code == 404
    [line] = json_log()
    assert line["level"] == "WARNING"
    assert line["logger"] == "django.request"
    assert line["message"] == "Not Found: /api/threads/999999/"
    assert line["request_id"] == response["X-Request-ID"]
    assert line["user_id"] == alice.pk
    assert line["status_code"] == 404
    assert datetime.fromisoformat(line["time"]).utcoffset() == timedelta(0)
    assert line["time"].endswith("Z")
    assert "exc_info" not in line
    assert "request" not in line  # Django's HttpRequest object: the path is in the message


def test_in_json_an_anonymous_request_has_no_user(anon_client, json_log):
    response = anon_client.get("/api/threads/")

    assert response.status_code == 401
    [line] = json_log()
    assert line["message"] == "Unauthorized: /api/threads/"
    assert line["request_id"] == response["X-Request-ID"]
    assert line["user_id"] is None


def test_in_json_a_bad_host_header_is_one_warning_with_the_request_id(anon_client, json_log):
    response = anon_client.get("/api/threads/", HTTP_HOST="attacker.example")

    assert response.status_code == 400
    [line] = json_log()
    assert line["logger"] == "django.security.DisallowedHost"
    assert line["level"] == "WARNING"
    assert line["request_id"] == response["X-Request-ID"]
    assert "exc_info" not in line


def test_in_json_an_exceptions_traceback_is_a_field_of_its_one_line(
    alice, alice_client, json_log, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug\non two lines")

    monkeypatch.setattr(threads_views, "thread_list_for", broken)
    alice_client.raise_request_exception = False

    response = alice_client.get("/api/threads/")

    assert response.status_code == 500
    [line] = json_log()
    assert line["level"] == "ERROR"
    assert line["logger"] == "django.request"
    assert line["message"] == "Internal Server Error: /api/threads/"
    assert line["request_id"] == response["X-Request-ID"]
    assert line["user_id"] == alice.pk
    assert line["exc_info"].startswith("Traceback (most recent call last):")
    assert line["exc_info"].endswith("RuntimeError: a bug\non two lines")


def test_in_json_a_message_on_several_lines_is_folded_onto_one(json_log):
    logging.getLogger("chat_project").warning("first line\n\tsecond line")

    [line] = json_log()
    assert line["message"] == "first line second line"
    assert line["request_id"] is None  # logged outside any request
    assert line["user_id"] is None


def test_log_format_is_text_or_json():
    assert log_format(None) == "text"
    assert log_format("JSON") == "json"
    with pytest.raises(ValueError, match="LOG_FORMAT must be one of text, json"):
        log_format("yaml")


def test_in_json_an_admin_request_names_its_signed_in_user(moderator, moderator_admin, json_log):
    response = moderator_admin.get("/admin/threads/nothing-here/")

    assert response.status_code == 404
    [line] = json_log()
    assert (line["request_id"], line["user_id"]) == (response["X-Request-ID"], moderator.pk)
