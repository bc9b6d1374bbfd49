"""The users app's hand-written SQL. Each statement is a named function with typed
parameters; nothing else in the app formats SQL. Hand-written where the ORM cost more
than the database (figures in docs/performance.md), or where a rule must be written once
for the SQL of other apps as well (`blocked_sql`)."""

from functools import cache

from django.contrib.auth import get_user_model
from django.db import connection

from chat_project.rawsql import fetch_instance, model_columns


def blocked_sql(*, blocker: str, blocked: str) -> str:
    """The blocking rule as an SQL condition: `blocker` has blocked `blocked`. Both are SQL
    expressions (columns or parameter placeholders). The one spelling of the rule: the
    threads app's queries embed it, and `is_blocked` runs it."""
    return (
        "EXISTS(SELECT 1 FROM users_block b "
        f"WHERE b.blocker_id = {blocker} AND b.blocked_id = {blocked})"
    )


_IS_BLOCKED = "SELECT " + blocked_sql(blocker="%s", blocked="%s")


def is_blocked(*, blocker_id: int, blocked_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(_IS_BLOCKED, [blocker_id, blocked_id])
        return bool(cursor.fetchone()[0])


def user_by_id(user_id: int):
    """The user with primary key `user_id`, or None: the look-up every authenticated
    request makes, as one plain-cursor query (see chat_project/rawsql.py)."""
    user_model = get_user_model()
    return fetch_instance(user_model, _user_sql(user_model, connection.vendor), [user_id])


@cache
def _user_sql(user_model, vendor: str) -> str:
    meta = user_model._meta
    quote = connection.ops.quote_name
    return (
        f"SELECT {model_columns(user_model)} FROM {quote(meta.db_table)} "
        f"WHERE {quote(meta.pk.column)} = %s"
    )
