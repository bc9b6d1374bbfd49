"""What the health checks look at (chat_project.middleware.HealthCheckMiddleware).

Liveness says the process answers and looks at nothing else: a database outage must not
get healthy processes restarted. Readiness says the process can serve requests now: its
database answers, and its Redis when REDIS_URL is set (events between processes).
"""

import redis
from django.conf import settings
from django.db import connection

# Seconds each readiness check waits: an orchestrator's probe gives up after a second or
# a few, and a check still waiting then would only hold a request thread.
CHECK_TIMEOUT = 2


def check_database() -> None:
    """Run `SELECT 1`; raise if the database does not answer."""
    pool = getattr(connection, "pool", None)  # PostgreSQL's connection pool, if pooled
    if pool is not None:
        # Straight from the pool, to wait CHECK_TIMEOUT for a connection instead of
        # the pool's own timeout (DJANGO_DB_POOL_TIMEOUT), meant for requests.
        pool.open()
        with pool.connection(timeout=CHECK_TIMEOUT) as conn:
            conn.execute("SELECT 1")
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")


def check_redis(url: str) -> None:
    """PING Redis at `url`; raise if it does not answer within CHECK_TIMEOUT."""
    with redis.Redis.from_url(
        url, socket_connect_timeout=CHECK_TIMEOUT, socket_timeout=CHECK_TIMEOUT
    ) as client:
        client.ping()


def readiness() -> tuple[dict[str, str], dict[str, Exception]]:
    """Each check's state ("ok" or "unavailable"), and the errors of those that failed."""
    checks = {"database": check_database}
    if settings.REDIS_URL:
        checks["redis"] = lambda: check_redis(settings.REDIS_URL)
    states, errors = {}, {}
    for name, check in checks.items():
        try:
            check()
        except Exception as error:  # whatever the failure, the answer is "not ready"
            errors[name] = error
        states[name] = "unavailable" if name in errors else "ok"
    return states, errors
