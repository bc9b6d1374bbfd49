"""Prometheus metrics at /metrics: who may read them, and what real requests and sockets
leave in them. Counters live for the whole test run, so each story reads them before and
after (`Scrape.delta`)."""

import types
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.test import Client, override_settings
from prometheus_client.parser import text_string_to_metric_families
from redis.exceptions import ConnectionError as RedisConnectionError

from chat_project import metrics
from chat_project.tests.test_limits import rates
from chat_project.tests.test_outages import REFUSED, cannot_connect
from threads import consumers, events
from threads.tests.test_realtime import (
    call,
    connect,
    events_of,
    fresh_channel_layer,
    pair,
    refused_with,
)
from threads.tests.test_sync_sockets import connect_since, post, received

__all__ = ["fresh_channel_layer", "pair"]  # fixtures

MESSAGES_ROUTE = "/api/threads/<pk>/messages/"
TOKEN = "metrics-token-for-tests"  # noqa: S105
# A Kubernetes pod's address, as Prometheus addresses a target: not in ALLOWED_HOSTS.
POD_HOST = "10.1.2.3:8000"


class Scrape:
    """One reading of /metrics (from loopback): each sample's value, summed over the
    labels a query leaves out (a multiprocess gauge's `pid`)."""

    def __init__(self, text: str) -> None:
        self.samples = [
            sample for family in text_string_to_metric_families(text) for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        return sum(
            sample.value
            for sample in self.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def delta(self, before: "Scrape", name: str, **labels: str) -> float:
        return self.value(name, **labels) - before.value(name, **labels)


def scrape() -> Scrape:
    response = Client().get("/metrics")
    assert response.status_code == 200
    return Scrape(response.content.decode())


async def scrape_async() -> Scrape:
    return await database_sync_to_async(scrape)()


# --- Requests --------------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_are_counted_and_timed_by_route_method_and_status_class(alice_client, thread):
    before = scrape()

    for _ in range(2):
        assert alice_client.get(f"/api/threads/{thread.pk}/messages").status_code == 200
    assert alice_client.get("/api/threads/999999/messages/").status_code == 404
    assert alice_client.get("/no/such/page/").status_code == 404
    after = scrape()

    ok = {"route": MESSAGES_ROUTE, "method": "GET", "status": "2xx"}
    assert after.delta(before, "chat_http_requests_total", **ok) == 2
    assert after.delta(before, "chat_http_request_duration_seconds_count", **ok) == 2
    assert after.delta(before, "chat_http_request_duration_seconds_bucket", le="+Inf", **ok) == 2
    assert after.delta(before, "chat_http_request_duration_seconds_sum", **ok) > 0
    not_found = {"route": MESSAGES_ROUTE, "method": "GET", "status": "4xx"}
    assert after.delta(before, "chat_http_requests_total", **not_found) == 1
    unmatched = {"route": "<unmatched>", "method": "GET", "status": "4xx"}
    assert after.delta(before, "chat_http_requests_total", **unmatched) == 1
    # Routes, not paths: no label names a thread.
    routes = {sample.labels.get("route") for sample in after.samples}
    assert not any(str(thread.pk) in route for route in routes if route)


@pytest.mark.django_db
def test_a_database_outage_is_counted_as_5xx(alice_client):
    before = scrape()

    with cannot_connect(REFUSED):
        response = alice_client.get("/api/threads/")
    after = scrape()

    assert response.status_code == 503
    assert after.delta(before, "chat_http_requests_total", route="/api/threads/", status="5xx") == 1


@pytest.mark.django_db
def test_an_invented_method_is_counted_as_other(alice_client):
    before = scrape()

    alice_client.generic("BREW", "/api/threads/")

    assert scrape().delta(before, "chat_http_requests_total", method="other") == 1


@pytest.mark.django_db
def test_a_throttled_request_is_counted_by_scope(alice_client, thread):
    before = scrape()
    url = f"/api/threads/{thread.pk}/messages"

    with rates(message_post="2/minute"):
        statuses = [alice_client.post(url, {"text": "hi"}).status_code for _ in range(3)]
    after = scrape()

    assert statuses == [201, 201, 429]
    assert after.delta(before, "chat_throttled_requests_total", scope="message_post") == 1
    assert after.delta(before, "chat_throttled_requests_total", scope="write") == 0
    assert after.delta(before, "chat_http_requests_total", route=url + "/", status="4xx") == 0
    assert (
        after.delta(
            before, "chat_http_requests_total", route=MESSAGES_ROUTE, method="POST", status="4xx"
        )
        == 1
    )


@pytest.mark.django_db
def test_a_database_pool_is_reported_per_process(monkeypatch):
    # The PostgreSQL pool as psycopg_pool describes it: 7 connections open, 2 of them idle,
    # 3 requests waiting; 4 requests had to wait and 1 timed out since the last reading.
    stats = {"pool_max": 10, "pool_size": 7, "pool_available": 2, "requests_waiting": 3}
    stats.update(requests_queued=10, requests_errors=0)
    pool = types.SimpleNamespace(get_stats=lambda: stats)
    monkeypatch.setattr(metrics, "connections", {"default": types.SimpleNamespace(pool=pool)})
    monkeypatch.setattr(metrics, "_pool_counted", {"requests_queued": 0, "requests_errors": 0})
    before = scrape()
    stats.update(requests_queued=14, requests_errors=1)

    after = scrape()

    assert after.value("chat_db_pool_connections_in_use") == 5
    assert after.value("chat_db_pool_connections_max") == 10
    assert after.value("chat_db_pool_requests_waiting") == 3
    assert after.delta(before, "chat_db_pool_waits_total") == 4
    assert after.delta(before, "chat_db_pool_errors_total") == 1


# --- Who may read them -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("address", ["127.0.0.1", "::1", "::ffff:127.0.0.1"])
def test_a_loopback_client_reads_the_metrics_without_credentials(address):
    response = Client().get("/metrics", REMOTE_ADDR=address)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert response["Cache-Control"] == "no-store"
    assert b"chat_http_requests_total" in response.content


@pytest.mark.django_db
def test_a_scrape_is_answered_whatever_the_host_over_plain_http_and_is_not_counted():
    before = scrape()

    with override_settings(SECURE_SSL_REDIRECT=True):
        response = Client().get("/metrics/", HTTP_HOST=POD_HOST)

    assert response.status_code == 200
    assert scrape().value("chat_http_requests_total") == before.value("chat_http_requests_total")


@pytest.mark.django_db
def test_metrics_are_only_read():
    response = Client().post("/metrics")

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {"REMOTE_ADDR": "203.0.113.7"},
        # A reverse proxy on the same host connects from loopback for every client.
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.7"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_FORWARDED": "for=203.0.113.7;proto=https"},
        {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_REAL_IP": "203.0.113.7"},
    ],
    ids=["remote", "x-forwarded-for", "forwarded", "x-real-ip"],
)
def test_without_a_token_other_clients_find_nothing(headers):
    response = Client().get("/metrics", **headers)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert b"chat_" not in response.content


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", TOKEN])
def test_with_a_token_other_clients_without_it_are_refused(authorization):
    credentials = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    response = Client().get(
        "/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7", **credentials
    )

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"chat_" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "proxy_settings",
    [{"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")}, {"NUM_PROXIES": 1}],
    ids=["ssl-header", "num-proxies"],
)
def test_behind_a_proxy_loopback_is_no_credential(settings, proxy_settings):
    """A proxy that adds no forwarding header still connects from loopback for everyone:
    once the settings say a proxy is in front, only the token opens the metrics."""
    if "NUM_PROXIES" in proxy_settings:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, **proxy_settings}
    else:
        settings.SECURE_PROXY_SSL_HEADER = proxy_settings["SECURE_PROXY_SSL_HEADER"]

    assert Client().get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    response = Client().get(
        "/metrics", REMOTE_ADDR="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )
    assert response.status_code == 200


@pytest.mark.django_db
@override_settings(METRICS_TOKEN=TOKEN)
@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_with_a_token_other_clients_bearing_it_read_the_metrics(scheme):
    response = Client().get(
        "/metrics", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION=f"{scheme} {TOKEN}"
    )

    assert response.status_code == 200
    assert b"chat_http_requests_total" in response.content


async def asgi_scrape(client: str, headers=()) -> tuple[int, dict, bytes]:
    """A scrape through the production entry point, which answers it on the event loop."""
    from asgiref.testing import ApplicationCommunicator

    from chat_project.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/metrics",
        "raw_path": b"/metrics",
        "query_string": b"",
        "headers": [(b"host", POD_HOST.encode()), *headers],
        "client": (client, 50000),
        "server": ("10.1.2.3", 8000),
    }
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=5)
    body = await communicator.receive_output(timeout=5)
    return start["status"], dict(start["headers"]), body["body"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@override_settings(METRICS_TOKEN=TOKEN)
@pytest.mark.parametrize(
    ("client", "headers", "status"),
    [
        ("127.0.0.1", [], 200),
        ("127.0.0.1", [(b"x-forwarded-for", b"203.0.113.7")], 401),
        ("203.0.113.7", [], 401),
        ("203.0.113.7", [(b"authorization", b"Bearer wrong")], 401),
        ("203.0.113.7", [(b"authorization", f"Bearer {TOKEN}".encode())], 200),
    ],
    ids=["loopback", "proxied", "remote", "wrong-token", "token"],
)
async def test_the_production_server_applies_the_same_rules(client, headers, status):
    answered, response_headers, body = await asgi_scrape(client, headers)

    assert answered == status
    assert response_headers[b"cache-control"] == b"no-store"
    assert len(response_headers[b"x-request-id"]) == 32
    assert (b"chat_http_requests_total" in body) == (status == 200)


def test_metrics_are_not_in_the_api_schema():
    schema = Path(metrics.__file__).parents[1] / "docs" / "openapi.yaml"

    assert "/metrics" not in schema.read_text()


# --- Sockets and events ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_an_open_socket_is_counted_until_it_closes(pair):
    alice, *_ = pair
    before = await scrape_async()

    alices = await connect(alice)
    during = await scrape_async()
    await alices.disconnect()
    after = await scrape_async()

    assert during.delta(before, "chat_websocket_connections") == 1
    assert during.delta(before, "chat_websocket_connections_opened_total") == 1
    assert after.delta(before, "chat_websocket_connections") == 0
    assert after.delta(before, "chat_websocket_connections_opened_total") == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_socket_whose_handler_failed_is_no_longer_counted(pair, monkeypatch):
    alice, *_ = pair
    before = await scrape_async()
    alices = await connect(alice)

    async def failing_receive(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(consumers.EventConsumer, "receive", failing_receive)
    await alices.send_to(text_data="{}")
    with pytest.raises(RuntimeError):
        await alices.wait(timeout=1)
    after = await scrape_async()

    assert after.delta(before, "chat_websocket_connections_opened_total") == 1
    assert after.delta(before, "chat_websocket_connections") == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_refused_socket_is_not_open_and_its_close_code_is_counted():
    before = await scrape_async()

    refused = await connect(token="not-a-token")
    assert await refused_with(refused) == 4401
    after = await scrape_async()

    assert after.delta(before, "chat_websocket_closes_total", code="4401") == 1
    assert after.delta(before, "chat_websocket_connections_opened_total") == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_change_delivered_live_is_published_and_its_lag_observed(pair):
    alice, bob, _, thread = pair
    alices, bobs = await connect(alice), await connect(bob)
    before = await scrape_async()

    await call(alice, "post", f"/api/threads/{thread.pk}/messages", {"text": "hi"})
    heard = [*(await events_of(alices)), *(await events_of(bobs))]
    after = await scrape_async()

    assert [event["type"] for event in heard] == ["message.created"] * 2
    assert all("committed_at" not in event for event in heard)  # clients get the change alone
    # One event per participant, each sent live on that participant's socket.
    assert after.delta(before, "chat_events_published_total", type="message.created") == 2
    assert after.delta(before, "chat_change_delivery_lag_seconds_count") == 2
    assert after.delta(before, "chat_change_delivery_lag_seconds_bucket", le="+Inf") == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_typing_notices_are_published_and_a_flood_of_them_throttled(pair, settings):
    settings.WEBSOCKET_MESSAGES_PER_SECOND = 2
    alice, bob, _, thread = pair
    alices, bobs = await connect(alice), await connect(bob)
    before = await scrape_async()

    for _ in range(3):
        await alices.send_json_to({"type": "typing", "thread": thread.pk})
    [typing] = await events_of(bobs)
    [refused] = await events_of(alices)
    after = await scrape_async()

    assert (typing["type"], refused["code"]) == ("typing", "throttled")
    assert after.delta(before, "chat_events_published_total", type="typing") == 1
    assert after.delta(before, "chat_websocket_messages_throttled_total") == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_changes_sent_from_the_log_after_a_gap_are_counted(pair, monkeypatch, settings):
    settings.WEBSOCKET_RECHECK_SECONDS = 3600  # the gap, not a recheck, finds the missed one
    alice, bob, _, thread = pair
    bobs = await connect_since(bob)
    before = await scrape_async()
    delivered = events.deliver
    monkeypatch.setattr(events, "deliver", lambda *args, **kwargs: None)  # lost on the way
    await post(alice, thread, "missed")
    monkeypatch.setattr(events, "deliver", delivered)

    await post(alice, thread, "after")
    await received(bobs, 2)
    after = await scrape_async()

    # Both from the log: the missed change, and the one whose arrival showed the gap.
    assert after.delta(before, "chat_changes_recovered_total", noticed_by="gap") == 2
    assert after.delta(before, "chat_change_delivery_lag_seconds_count") == 0


class UnreachableLayer:
    """A channel layer whose Redis is down."""

    async def group_send(self, group, message):
        raise RedisConnectionError("Connection refused.")


@pytest.mark.django_db(transaction=True)
def test_events_the_layer_cannot_take_are_counted_as_dropped(alice_client, thread, monkeypatch):
    monkeypatch.setattr(events, "get_channel_layer", UnreachableLayer)
    monkeypatch.setattr(events, "_server_loop", None)  # sent here, as outside the server
    before = scrape()

    response = alice_client.post(f"/api/threads/{thread.pk}/messages", {"text": "hi"})
    after = scrape()

    assert response.status_code == 201
    # One per participant: the layer could have reached either.
    assert after.delta(before, "chat_events_dropped_total", reason="layer_unreachable") == 2
    assert after.delta(before, "chat_events_published_total") == 0
