"""Rate limits. Rates are read from settings at request time (not import time), so they
follow DEFAULT_THROTTLE_RATES as configured from the environment and in tests.

The counters live in the default cache: Redis when REDIS_URL is set, so every server
process counts against one budget, each request checked and counted in one atomic step
(`RedisCache.window_hit`). A cache that cannot be reached lets the request
through (one log line per burst, `FailureLog`): an outage of the limiter must not become
an outage of the API."""

import logging

from django.core.cache import caches
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from chat_project import metrics
from chat_project.cache import RedisCache
from chat_project.logs import FailureLog

logger = logging.getLogger(__name__)
uncounted_requests = FailureLog(
    logger, "Rate-limit cache unreachable", "requests let through uncounted"
)


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        try:
            if isinstance(caches["default"], RedisCache):
                allowed = self._allow_in_redis(request, view)
            else:
                allowed = super().allow_request(request, view)
        except (RedisError, OSError) as failure:
            uncounted_requests.failed(failure)
            return True
        if not allowed:
            metrics.throttled_requests.labels(self.scope).inc()
        return allowed

    def _allow_in_redis(self, request, view) -> bool:
        """DRF's `allow_request`, with the history kept in Redis and checked and counted in
        one atomic step, by Redis's clock. `history` is only read back when refused, for
        `wait`."""
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        counted, self.now, self.history = caches["default"].window_hit(
            self.key, length=self.duration, most=self.num_requests
        )
        return counted


class AuthRateThrottle(_SettingsRateThrottle):
    """Login, token refresh and registration attempts, per client IP: slows password
    guessing and sign-up floods."""

    scope = "auth"

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class _UserMethodThrottle(_SettingsRateThrottle):
    """Counts the `throttled_methods` requests of an authenticated user; any other request
    passes uncounted. (`chat_project.schema` documents 429 for the same methods.)"""

    throttled_methods: frozenset[str] = frozenset()

    def allow_request(self, request, view) -> bool:
        if request.method not in self.throttled_methods:
            return True
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None  # not counted: the views refuse anonymous writes (401) anyway
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class WriteRateThrottle(_UserMethodThrottle):
    """Every change an authenticated user makes (edits, deletes, thread creates, mark-read,
    blocks), per user: the default throttle, so a new write endpoint is covered without
    asking. Reads are never counted. Posting messages has its own budget instead
    (`MessagePostThrottle`)."""

    scope = "write"
    throttled_methods = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class MessagePostThrottle(_UserMethodThrottle):
    """Messages posted, per user. Reads on the same endpoint are not counted."""

    scope = "message_post"
    throttled_methods = frozenset({"POST"})
