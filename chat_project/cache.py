"""The Redis cache backend: Django's, with one connection pool per process.

Django keeps a cache instance per request context (`caches` is an asgiref Local that is
not thread-critical), and under the ASGI server (chat_project/asgi.py) every request runs
in a fresh context. Django's RedisCache keeps its connection pool on the instance, so
every request built a new pool and opened a new connection to Redis: 101 connections for
100 throttled requests, half the write throughput (docs/performance.md). Here instances
with the same servers and options share one client, its pools, and one redis-py client
object per pool (Django builds one per operation).
"""

import threading

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.utils.functional import cached_property


class SharedRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict = {}

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
