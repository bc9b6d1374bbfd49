"""The Redis cache backend: Django's, with one connection pool per process.

Django keeps a cache instance per request context (`caches` is an asgiref Local that is
not thread-critical), and under the ASGI server (chat_project/asgi.py) every request runs
in a fresh context. Django's RedisCache keeps its connection pool on the instance, so
every request built a new pool and opened a new connection to Redis: 101 connections for
100 throttled requests, half the write throughput (docs/performance.md). Here instances
with the same servers and options share one client, its pools, and one redis-py client
object per pool (Django builds one per operation).

It also counts the rate limits' hits (`window_hit`): one atomic round trip where DRF's
throttle reads its history and writes it back (two round trips, and two concurrent
requests could both take the last place).
"""

import threading
import uuid

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property


class SharedRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict = {}
        self._scripts: dict = {}

    def script(self, source: str):
        """`source` as a redis-py Script on the primary's client (EVALSHA, loading the
        script on first use), registered once."""
        if source not in self._scripts:
            self._scripts[source] = self.get_client(write=True).register_script(source)
        return self._scripts[source]

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            # redis-py clients are thread-safe: each command takes a pooled connection.
            client = self._clients[pool] = self._client(connection_pool=pool)
        return client


_clients: dict[tuple, SharedRedisCacheClient] = {}
_clients_lock = threading.Lock()


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = SharedRedisCacheClient

    @cached_property
    def _cache(self) -> SharedRedisCacheClient:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
            return client

    def window_hit(self, key: str, *, length: int, most: int) -> tuple[bool, float, list[float]]:
        """Counts a hit now in the sliding window `key` of `length` seconds unless `most`
        hits already lie in it, in one round trip, atomically (concurrent requests from
        several processes cannot both take the last place), by Redis's clock. Returns
        whether it was counted, the time it was counted at (Redis's), and, when it was not,
        the times of the hits in the window, newest first."""
        redis_key = self.make_and_validate_key(f"window:{key}")
        script = self._cache.script(_WINDOW_HIT)
        counted, now, *hits = script(keys=[redis_key], args=[length, most, uuid.uuid4().hex])
        return counted == 1, float(now), [float(time) for time in hits]


# One hit in a sliding window, atomically: forget the hits older than the window, then
# count this one unless the window is full. The time is Redis's own, so servers whose
# clocks differ still share one window. KEYS[1]: the window (a sorted set of hits scored
# by time); ARGV: the window's length in seconds, the most hits it may hold, and a name
# for this hit. Returns {1, now} when the hit was counted, else {0, now} followed by the
# times of the hits in the window, newest first; times as text (Lua numbers would reach
# Python as integers).
_WINDOW_HIT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local stamp = clock[1] .. '.' .. string.format('%06d', clock[2])
local length, most = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - length)
if redis.call('ZCARD', KEYS[1]) >= most then
    local hits = redis.call('ZREVRANGE', KEYS[1], 0, -1, 'WITHSCORES')
    local answer = {0, stamp}
    for i = 2, #hits, 2 do answer[#answer + 1] = hits[i] end
    return answer
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(length * 1000))
return {1, stamp}
"""
