"""The channel layer with REDIS_URL: channels_redis's pub/sub layer, with what a server of
many sockets needs on top.

channels_redis's default layer (`RedisChannelLayer`) keeps each message in a Redis list
per receiver: a group send is several round trips (the group's members, then one script
per member), and each process pops its messages one blocking read at a time. With 1,000
sockets and a couple of hundred posts a second, those round trips queued behind each
other until events arrived seconds late (docs/performance.md, "Real-time delivery"). Its
pub/sub layer (`RedisPubSubChannelLayer`) holds one subscription connection per process
and a group send is one PUBLISH that Redis pushes to every process listening. This module
adds:

- **Batches**: `group_send_many` publishes a list of messages in order in one round trip
  (a pipeline), so a burst of events costs one wait for Redis, not one each
  (threads/events.py sends each round of events this way).
- **Failures reach the receivers**: when the subscription connection fails (Redis stopped
  or unreachable), every pending and later `receive` of this process's channels raises
  the error, so each socket closes with 1012 and its client reconnects and catches up,
  rather than staying open and deaf. The layer forgets the broken connection; the next
  subscription (a client reconnecting) opens a new one. channels_redis instead logs a
  traceback every second while Redis is down and keeps the receivers waiting.
- **Names**: the connections are named in Redis (`CLIENT LIST`) by the layer's prefix and
  the process id.
- **No silent reconnects**: redis-py retries a failed command on a new connection, which
  for the subscription would hide the events lost meanwhile; here the subscription's
  failure is reported at once. A publish is tried again once on a new connection (a
  pooled one may have been dropped by a Redis restart); publishes that still fail are
  counted as dropped by threads/events.py.
"""

import asyncio
import contextlib
import logging
import os

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _close_redis, _wrap_close, create_pool
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from chat_project import metrics, request_context
from chat_project.logs import FailureLog

logger = logging.getLogger(__name__)
overflows = FailureLog(logger, "A socket's client reads too slowly", "events dropped")
_dropped_unread = metrics.events_dropped.labels("reader_too_slow")

# What a Redis that went away raises: redis-py's errors and the socket's own.
CONNECTION_ERRORS = (OSError, RedisError)

# How long the subscription waits for a message before looking again; after this much
# silence it asks Redis for a PONG, and a PONG that does not come within the connection's
# socket_timeout counts as a lost connection (a Redis that stopped answering sends no
# error).
RECEIVE_POLL_SECONDS = 1.0
PING_AFTER_SILENCE = 10.0
DEFAULT_SOCKET_TIMEOUT = 10.0


def connection_name(prefix: str) -> str:
    """The name this process's layer connections carry in Redis (CLIENT LIST)."""
    return f"{prefix}events.{os.getpid()}"


class _Lost:
    """Put in a receiver's queue when the subscription failed: `receive` raises `error`."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class ShardConnection(RedisSingleShardConnection):
    """One Redis server's connections: publishing, and the one subscription."""

    _subscriber: aioredis.Redis | None = None  # the client of the subscription

    def _client(self, *, retries: int) -> aioredis.Redis:
        pool = create_pool(
            {
                **self.host,
                "retry": Retry(NoBackoff(), retries),
                "client_name": connection_name(self.channel_layer.prefix),
            }
        )
        return aioredis.Redis(connection_pool=pool)

    def _ensure_redis(self) -> None:
        if self._redis is None:
            # Publishing: a pooled connection that Redis dropped meanwhile (a restart, an
            # idle timeout) is retried once, on a new connection.
            self._redis = self._client(retries=1)
            # The subscription is never made again behind the receivers' backs: the
            # events published meanwhile would be missed unnoticed. A failure fails them
            # (`_lost`).
            self._subscriber = self._client(retries=0)
            self._pubsub = self._subscriber.pubsub()

    async def publish_many(self, messages: list[tuple[str, bytes]]) -> None:
        async with self._lock:
            self._ensure_redis()
            pipeline = self._redis.pipeline(transaction=False)
            for channel, data in messages:
                pipeline.publish(channel, data)
            await pipeline.execute()

    async def _do_receiving(self) -> None:
        # Started by the first socket to subscribe, it serves every socket of the process
        # from then on: what it logs is not that first socket's.
        request_context.clear()
        pubsub = self._pubsub
        loop = asyncio.get_running_loop()
        answer_within = self.host.get("socket_timeout") or DEFAULT_SOCKET_TIMEOUT
        heard, pinged = loop.time(), None
        while True:
            try:
                if not pubsub.subscribed:
                    await asyncio.sleep(0.1)
                    heard = loop.time()
                    continue
                message = await pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=RECEIVE_POLL_SECONDS
                )
                now = loop.time()
                if message is not None:
                    heard, pinged = now, None
                    if message["type"] != "pong":
                        self._receive_message(message)
                elif pinged is None and now - heard > PING_AFTER_SILENCE:
                    await pubsub.ping()
                    pinged = now
                elif pinged is not None and now - pinged > answer_within:
                    raise TimeoutError("Redis did not answer a PING on the subscription")
            except CONNECTION_ERRORS as error:
                await self._lost(error)
                return

    def _receive_message(self, message: dict | None) -> None:
        if message is not None:
            name = message["channel"]
            self.channel_layer.deliver(
                name.decode() if isinstance(name, bytes) else name, message["data"]
            )

    async def _lost(self, error: BaseException) -> None:
        """Forget the broken connections and fail every receiver of this process."""
        async with self._lock:
            clients = (self._redis, self._subscriber)
            self._redis = self._subscriber = self._pubsub = self._receive_task = None
            self._subscribed_to = set()
        self.channel_layer.fail_receivers(error)
        await _close_quietly(*clients)

    async def flush(self) -> None:
        subscriber, self._subscriber = self._subscriber, None
        await super().flush()
        await _close_quietly(subscriber)


async def _close_quietly(*clients: aioredis.Redis | None) -> None:
    for client in clients:
        if client is not None:
            with contextlib.suppress(*CONNECTION_ERRORS):
                await _close_redis(client)


class LoopLayer(RedisPubSubLoopLayer):
    """The layer's state for one event loop (channels_redis keeps one per loop)."""

    def __init__(self, *args, capacity: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.capacity = capacity
        self._shards = [ShardConnection(shard.host, self) for shard in self._shards]

    async def _subscribe_to_channel(self, channel: str) -> None:
        # A receiver buffers at most `capacity` messages (channels_redis: unbounded).
        self.channels[channel] = asyncio.Queue(self.capacity)
        try:
            await self._get_shard(channel).subscribe(channel)
        except CONNECTION_ERRORS:
            del self.channels[channel]
            raise

    def deliver(self, name: str, data: bytes) -> None:
        """Queue a message published on `name` (a channel or a group) for its receivers
        here; a receiver whose buffer is full misses it."""
        receivers = (name,) if name in self.channels else self.groups.get(name, ())
        for channel in receivers:
            queue = self.channels.get(channel)
            if queue is None:
                continue
            try:
                queue.put_nowait(data)
            except asyncio.QueueFull:
                overflows.failed(asyncio.QueueFull(f"{self.capacity} events unread"))
                _dropped_unread.inc()

    def fail_receivers(self, error: BaseException) -> None:
        for queue in self.channels.values():
            if queue.full():
                queue.get_nowait()  # the failure matters more than the oldest event
            queue.put_nowait(_Lost(error))

    async def receive(self, channel: str) -> dict:
        if channel not in self.channels:
            await self._subscribe_to_channel(channel)
        queue = self.channels[channel]
        try:
            message = await queue.get()
        except (TimeoutError, asyncio.CancelledError, GeneratorExit):
            # The receiver is gone (its socket closed): channels_redis's own clean-up,
            # without a traceback when Redis is the reason it closed.
            if self.channels.pop(channel, None) is not None:
                with contextlib.suppress(*CONNECTION_ERRORS):
                    await self._get_shard(channel).unsubscribe(channel)
            raise
        if isinstance(message, _Lost):
            raise message.error
        return self.channel_layer.deserialize(message)

    async def group_add(self, group: str, channel: str) -> None:
        try:
            await super().group_add(group, channel)
        except CONNECTION_ERRORS:
            # Not subscribed: leave no member behind that no one would remove.
            await super().group_discard(group, channel)
            raise

    async def group_send_many(self, messages: list[tuple[str, dict]]) -> None:
        """Publish `messages` ((group, message) pairs) in their order, in one round trip
        per Redis server."""
        per_shard: dict[ShardConnection, list[tuple[str, bytes]]] = {}
        for group, message in messages:
            group_channel = self._get_group_channel_name(group)
            per_shard.setdefault(self._get_shard(group_channel), []).append(
                (group_channel, self.channel_layer.serialize(message))
            )
        for shard, published in per_shard.items():
            await shard.publish_many(published)


class PubSubChannelLayer(RedisPubSubChannelLayer):
    """What settings.CHANNEL_LAYERS names; the work is done by this loop's `LoopLayer`
    (`group_send_many` too, through channels_redis's attribute lookup)."""

    def _get_layer(self) -> LoopLayer:
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = self._layers[loop] = LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return layer
