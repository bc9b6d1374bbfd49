"""Where the throttle counters live: Redis when REDIS_URL is set (shared by every server
process), an explicit CACHE_URL over it, and requests let through when it is down."""

import logging
import os
import socket
import uuid

import pytest
import redis
from django.test import override_settings

from chat_project import throttling
from chat_project.tests.test_limits import rates
from chat_project.tests.test_settings import manage

pytestmark = pytest.mark.django_db

SHOW_CACHE = (
    "from django.conf import settings as s; c = s.CACHES['default'];"
    "print(c['BACKEND'], c.get('LOCATION', ''), c['KEY_PREFIX'], c.get('OPTIONS', {}))"
)


def default_cache(**env: str) -> str:
    result = manage("shell", "--no-imports", "-c", SHOW_CACHE, DJANGO_DEBUG="1", **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_with_redis_url_the_counters_live_in_that_redis():
    shown = default_cache(REDIS_URL="redis://127.0.0.1:6379/4", CACHE_URL="")

    assert shown == (
        "chat_project.cache.RedisCache redis://127.0.0.1:6379/4 chat "
        "{'socket_connect_timeout': 1, 'socket_timeout': 1}"
    )


def test_a_redis_cache_url_gets_the_backend_that_keeps_one_pool_per_process():
    shown = default_cache(CACHE_URL="redis://127.0.0.1:6379/5")

    assert shown.startswith("chat_project.cache.RedisCache redis://127.0.0.1:6379/5 ")


def test_an_explicit_cache_url_wins_over_redis_url():
    shown = default_cache(REDIS_URL="redis://127.0.0.1:6379/4", CACHE_URL="locmemcache://")

    assert shown.startswith("django.core.cache.backends.locmem.LocMemCache")


def test_without_either_the_counters_are_per_process():
    shown = default_cache(REDIS_URL="", CACHE_URL="", CACHE_KEY_PREFIX="chat-staging")

    assert shown == "django.core.cache.backends.locmem.LocMemCache  chat-staging {}"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


def unreachable_redis_cache():
    return override_settings(
        CACHES={
            "default": {
                "BACKEND": "chat_project.cache.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{closed_port()}/4",
                "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
            }
        }
    )


def test_writes_go_through_when_the_cache_is_down(alice_client, thread, caplog, monkeypatch):
    # The report of requests let through starts afresh, as in a new process.
    monkeypatch.setattr(throttling.uncounted_requests, "logged_at", None)
    monkeypatch.setattr(throttling.uncounted_requests, "count", 0)
    url = f"/api/threads/{thread.pk}/mark_read"

    with (
        rates(write="1/minute", message_post="1/minute"),
        unreachable_redis_cache(),
        caplog.at_level(logging.WARNING, logger="chat_project.throttling"),
    ):
        writes = [alice_client.patch(url, {}).status_code for _ in range(3)]
        posts = [
            alice_client.post(f"/api/threads/{thread.pk}/messages", {"text": "hi"}).status_code
            for _ in range(2)
        ]

    assert writes == [200, 200, 200]
    assert posts == [201, 201]
    warnings = [r for r in caplog.records if r.name == "chat_project.throttling"]
    [line] = warnings  # one line for the burst, no traceback
    assert line.getMessage().startswith(
        "Rate-limit cache unreachable: 1 requests let through uncounted since the last report"
    )
    assert line.exc_info is None


def test_logins_go_through_when_the_cache_is_down(anon_client, alice):
    from users.tests.factories import DEFAULT_PASSWORD

    with rates(auth="1/minute"), unreachable_redis_cache():
        statuses = [
            anon_client.post(
                "/api/token/", {"username": "alice", "password": DEFAULT_PASSWORD}
            ).status_code
            for _ in range(2)
        ]

    assert statuses == [200, 200]


# The counters in a real Redis: the local one's database 14, which no other check uses
# (TEST_REDIS_URL names another); these tests are skipped where none runs.
TEST_REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


@pytest.fixture
def redis_counters():
    """The throttle counters in Redis, under a key prefix of this test's own, deleted
    afterwards: the Redis client and the prefix."""
    client = redis.Redis.from_url(TEST_REDIS, socket_connect_timeout=1, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"needs Redis at {TEST_REDIS}")
    prefix = f"test-throttle-{uuid.uuid4().hex}"
    cache = {"BACKEND": "chat_project.cache.RedisCache", "LOCATION": TEST_REDIS}
    try:
        with override_settings(CACHES={"default": {**cache, "KEY_PREFIX": prefix}}):
            yield client, prefix
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


@pytest.fixture(params=["process memory", "Redis"])
def counters(request):
    """The throttle counters in each place they can live: None for the process's memory,
    else as `redis_counters`."""
    return None if request.param == "process memory" else request.getfixturevalue("redis_counters")


def test_the_limit_is_the_same_wherever_the_counters_live(alice_client, alice, thread, counters):
    url = f"/api/threads/{thread.pk}/mark_read"

    with rates(write="3/minute"):
        responses = [alice_client.patch(url, {}) for _ in range(5)]

    assert [response.status_code for response in responses] == [200, 200, 200, 429, 429]
    assert 55 <= int(responses[3]["Retry-After"]) <= 60
    if counters is not None:
        client, prefix = counters
        window = f"{prefix}:1:window:throttle_write_{alice.pk}"
        assert client.zcard(window) == 3  # the refused requests are not counted
        assert 0 < client.pttl(window) <= 60_000  # gone once the window has passed


def test_counting_goes_on_after_redis_forgets_its_scripts(alice_client, thread, redis_counters):
    client, _ = redis_counters
    url = f"/api/threads/{thread.pk}/mark_read"

    with rates(write="2/minute"):
        first = alice_client.patch(url, {}).status_code
        client.script_flush()  # as after a restart of Redis, which keeps nothing on disk
        rest = [alice_client.patch(url, {}).status_code for _ in range(2)]

    assert [first, *rest] == [200, 200, 429]
