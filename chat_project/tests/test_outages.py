"""A database that cannot be reached answers 503 with Retry-After, logged as one line.

The outage is simulated where Django meets the driver: opening a connection
(`ensure_connection`, which every query goes through) or running a statement on one
(`CursorWrapper._execute`). The errors raised are the ones Django raises in an outage: its
OperationalError or InterfaceError wrapping the driver's (`raise ... from`), which is how
the mapping tells an outage from a bug in a query.
"""

import logging
import sqlite3
from unittest import mock

import psycopg
import psycopg_pool
import pytest
from django.db import IntegrityError, InterfaceError, OperationalError, ProgrammingError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

UNAVAILABLE = {
    "detail": "The service is temporarily unavailable: the database cannot be reached.",
    "code": "service_unavailable",
}


def wrapped(django_error, driver_error):
    """`django_error` as Django raises it: the driver's error is its cause."""
    error = django_error(*driver_error.args)
    error.__cause__ = driver_error
    return error


REFUSED = wrapped(
    OperationalError,
    psycopg.OperationalError(
        'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
        "Connection refused\n\tIs the server running on that host and accepting TCP/IP "
        "connections?"
    ),
)
POOL_TIMEOUT = wrapped(
    OperationalError, psycopg_pool.PoolTimeout("couldn't get a connection after 10.00 sec")
)
LOST = wrapped(
    OperationalError,
    psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly"),
)
CLOSED = wrapped(InterfaceError, psycopg.InterfaceError("the connection is closed"))
SQLITE_LOCKED = wrapped(OperationalError, sqlite3.OperationalError("database is locked"))


def cannot_connect(error):
    return mock.patch.object(BaseDatabaseWrapper, "ensure_connection", side_effect=error)


def statements_fail(error):
    return mock.patch.object(CursorWrapper, "_execute", side_effect=error)


def database_records(caplog):
    return [record for record in caplog.records if record.levelno >= logging.WARNING]


def assert_unavailable(response, caplog, error):
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"] == "application/json"
    assert response.json() == UNAVAILABLE
    [record] = database_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    message = record.getMessage()
    assert f"{type(error).__name__} from {type(error.__cause__).__name__}" in message
    assert str(error.__cause__).split()[0] in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "error", [REFUSED, POOL_TIMEOUT, CLOSED, SQLITE_LOCKED], ids=lambda e: str(e.__cause__)[:20]
)
def test_a_database_that_cannot_be_reached_is_a_503(alice_client, caplog, error):
    with cannot_connect(error):
        response = alice_client.get("/api/threads/")

    assert_unavailable(response, caplog, error)


@pytest.mark.parametrize("error", [LOST, CLOSED], ids=["lost", "closed"])
def test_a_connection_lost_in_the_middle_of_a_request_is_a_503(alice_client, thread, caplog, error):
    with statements_fail(error):
        response = alice_client.post(f"/api/threads/{thread.pk}/messages/", {"text": "hi"})

    assert_unavailable(response, caplog, error)


def test_authentication_that_cannot_load_the_user_is_a_503(alice_client, caplog):
    # The bearer token is checked before the view runs: the user's row is the first query.
    with cannot_connect(REFUSED):
        response = alice_client.get("/api/user/me/")

    assert_unavailable(response, caplog, REFUSED)


def test_a_login_without_the_database_is_a_503(anon_client, alice, caplog):
    with cannot_connect(POOL_TIMEOUT):
        response = anon_client.post("/api/token/", {"username": "alice", "password": "x"})

    assert_unavailable(response, caplog, POOL_TIMEOUT)


def test_the_admin_without_the_database_is_a_503(client, admin_user, caplog):
    client.force_login(admin_user)
    with cannot_connect(REFUSED):
        response = client.get("/admin/threads/thread/")

    assert_unavailable(response, caplog, REFUSED)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(ProgrammingError, psycopg.errors.UndefinedTable('relation "x" does not exist')),
        wrapped(IntegrityError, psycopg.errors.UniqueViolation("duplicate key value")),
        # SQLite reports a query bug as an OperationalError: still a bug, not an outage.
        wrapped(OperationalError, sqlite3.OperationalError("no such table: threads_thread")),
        # The server answered, and refused the statement: a query to fix, not a database
        # to wait for.
        wrapped(OperationalError, psycopg.errors.QueryCanceled("canceling statement")),
        OperationalError("no driver error behind it"),
    ],
    ids=["undefined-table", "unique", "sqlite-no-table", "query-canceled", "bare"],
)
def test_a_bug_in_a_query_is_still_a_500(alice, caplog, error):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(alice)  # no query of its own: the view's is the one that fails
    with statements_fail(error):
        response = client.get("/api/threads/")

    assert response.status_code == 500
    assert response.json() == {"detail": "Server error.", "code": "server_error"}
    assert "Retry-After" not in response
    [record] = database_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None  # a bug keeps its traceback
