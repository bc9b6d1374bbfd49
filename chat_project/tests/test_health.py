"""Health checks for load balancers and orchestrators: /healthz (the process answers) and
/readyz (its database, and Redis when configured, answer too)."""

import asyncio
import logging
import socket
import time
from unittest import mock

import psycopg_pool
import pytest
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test import override_settings

from chat_project.tests.test_asgi import request as asgi_request

pytestmark = pytest.mark.django_db

# A pod's address, as a Kubernetes probe sends it in the Host header: not in ALLOWED_HOSTS.
POD_HOST = "10.1.2.3:8000"


@pytest.fixture
def database_down():
    """Every way of getting a database connection fails: Django's (SQLite, or PostgreSQL
    without a pool) and the PostgreSQL pool's."""
    refused = OperationalError("connection refused")
    with (
        mock.patch.object(BaseDatabaseWrapper, "ensure_connection", side_effect=refused),
        mock.patch.object(
            psycopg_pool.ConnectionPool,
            "getconn",
            side_effect=psycopg_pool.PoolTimeout("couldn't get a connection after 2.00 sec"),
        ),
    ):
        yield


@pytest.fixture
def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def warnings_and_worse(caplog):
    return [record for record in caplog.records if record.levelno >= logging.WARNING]


@pytest.mark.parametrize("path", ["/healthz", "/healthz/"])
def test_liveness_answers_without_touching_the_database(client, database_down, caplog, path):
    response = client.get(path)  # any query would fail

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert warnings_and_worse(caplog) == []


@pytest.mark.parametrize("path", ["/readyz", "/readyz/"])
def test_readiness_checks_the_database(client, caplog, path):
    response = client.get(path)

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert warnings_and_worse(caplog) == []


def test_readiness_checks_redis_when_it_is_configured(client):
    with override_settings(REDIS_URL="redis://127.0.0.1:6379/1"):
        response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_not_ready_without_the_database(client, database_down, caplog):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {"status": "unavailable", "checks": {"database": "unavailable"}}
    [record] = warnings_and_worse(caplog)
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "database" in record.getMessage()


def test_not_ready_without_redis_and_says_so_quickly(client, closed_port, caplog):
    started = time.monotonic()
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{closed_port}/1"):
        response = client.get("/readyz/")

    assert time.monotonic() - started < 3
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "ok", "redis": "unavailable"},
    }
    [record] = warnings_and_worse(caplog)
    assert record.exc_info is None
    assert "redis" in record.getMessage()


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes_are_answered_whatever_the_host_and_over_plain_http(client, caplog, path):
    # Probes come from the load balancer or the kubelet, over plain HTTP, addressed to the
    # pod's IP: neither ALLOWED_HOSTS nor the HTTPS redirect may turn them away.
    with override_settings(SECURE_SSL_REDIRECT=True):
        response = client.get(path, HTTP_HOST=POD_HOST)

    assert response.status_code == 200
    assert warnings_and_worse(caplog) == []


def test_probes_need_no_credentials_and_ignore_bad_ones(client):
    response = client.get("/readyz", HTTP_AUTHORIZATION="Bearer not-a-token")

    assert response.status_code == 200


def test_probes_only_read(client):
    response = client.post("/healthz")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json()["code"] == "method_not_allowed"


def test_other_paths_still_check_the_host(client):
    response = client.get("/healthzz", HTTP_HOST=POD_HOST)

    assert response.status_code == 400


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/healthz", "/healthz/"])
async def test_liveness_answers_while_every_http_thread_is_busy(path):
    # In a database outage every HTTP thread can be waiting for a connection (up to the
    # pool's timeout each): a liveness probe queued behind them would time out and get a
    # process restarted that only has to wait for its database.
    async def every_thread_busy(scope, receive, send):
        await asyncio.Event().wait()  # never answers

    with mock.patch("chat_project.asgi.django_http", every_thread_busy):
        status, body = await asgi_request("GET", path)

    assert (status, body) == (200, {"status": "ok"})
