"""Model instances from one hand-written query, for the look-ups every request makes.

`Model.objects.raw()` maps columns to fields afresh on every query; for a one-row look-up
by key that mapping cost more than the database spent answering (a fifth of a request:
docs/performance.md). `fetch_instance` runs the SQL on a plain cursor and builds the
instance the way the ORM does (`Model.from_db`), with the same database converters,
worked out once per connection.
"""

from datetime import UTC, datetime
from functools import cache

from django.db import connection, connections
from django.db.models import Model


def model_columns(model: type[Model], table_alias: str = "") -> str:
    """The SELECT list of `model`'s concrete fields, in field order, each column named
    (never `*`: PostgreSQL's prepared statements must not change shape when a column is
    added)."""
    return _columns(model, table_alias, connection.vendor)


@cache
def _columns(model: type[Model], table_alias: str, vendor: str) -> str:
    quote = connection.ops.quote_name
    prefix = f"{table_alias}." if table_alias else ""
    return ", ".join(prefix + quote(field.column) for field in model._meta.concrete_fields)


def _converters_for(model: type[Model]) -> list:
    """(index, column, converters) for each field whose database value needs converting
    (on SQLite: datetimes made aware, UUIDs parsed), the backend's converters then the
    field's, as the ORM's compiler applies them. Kept on the connection they belong to
    (one per thread), so they go away with it."""
    wrapper = connections[connection.alias]
    per_model = wrapper.__dict__.setdefault("_chat_raw_converters", {})
    if model not in per_model:
        columns = [field.get_col(model._meta.db_table) for field in model._meta.concrete_fields]
        per_model[model] = [
            (index, column, converters)
            for index, column in enumerate(columns)
            if (
                converters := wrapper.ops.get_db_converters(column)
                + column.get_db_converters(wrapper)
            )
        ]
    return per_model[model]


def fetch_instance(model: type[Model], sql: str, params, *, extra: tuple[str, ...] = ()):
    """The one row `sql` selects as a `model` instance, or None. The SQL selects the
    model's concrete fields (`model_columns`) followed by the `extra` columns, which are
    set on the instance as attributes of those names."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    fields = model._meta.concrete_fields
    values = list(row[: len(fields)])
    for index, column, converters in _converters_for(model):
        for converter in converters:
            values[index] = converter(values[index], column, connection)
    instance = model.from_db(connection.alias, [field.attname for field in fields], values)
    for name, value in zip(extra, row[len(fields) :], strict=True):
        setattr(instance, name, value)
    return instance


def db_datetime(value):
    """A datetime column from a plain cursor: aware UTC on every backend (SQLite's driver
    hands back naive values or text)."""
    if value is None or isinstance(value, datetime) and value.tzinfo is not None:
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)
