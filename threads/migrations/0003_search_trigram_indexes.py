"""Trigram indexes for substring search, on PostgreSQL only.

`icontains` compiles to `UPPER(column::text) LIKE UPPER('%…%')`, which no B-tree can
serve: without these, every search reads every message (or user) row. A GIN index of
trigrams over the same expression answers it from the index. SQLite has no equivalent;
there search stays a scan, which is fine at the embedded default's sizes.
"""

from django.db import migrations

INDEXES = [
    ("threads_message_text_trgm", "threads_message", "text"),
    ("users_user_username_trgm", "users_user", "username"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" '
            f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("threads", "0002_unread_index_live_rows"),
        ("users", "0004_ascii_usernames"),
    ]

    operations = [migrations.RunPython(create, drop)]
