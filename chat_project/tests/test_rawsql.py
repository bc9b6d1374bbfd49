"""Model instances from hand-written look-ups behave like the ORM's own."""

import pytest
from django.utils import timezone

from chat_project.rawsql import fetch_instance, model_columns
from threads.models import Thread
from users.queries import user_by_id

pytestmark = pytest.mark.django_db


def test_the_authenticated_users_row_matches_the_orms(alice):
    alice.last_login = timezone.now()
    alice.save()

    loaded = user_by_id(alice.pk)

    expected = type(alice).objects.get(pk=alice.pk)
    assert [getattr(loaded, f.attname) for f in alice._meta.concrete_fields] == [
        getattr(expected, f.attname) for f in alice._meta.concrete_fields
    ]
    assert timezone.is_aware(loaded.date_joined)
    assert timezone.is_aware(loaded.last_login)


def test_extra_columns_and_datetimes_of_a_thread(thread):
    loaded = fetch_instance(
        Thread,
        f"SELECT {model_columns(Thread)}, 7 FROM threads_thread WHERE id = %s",  # noqa: S608
        [thread.pk],
        extra=("seven",),
    )

    assert (loaded.pk, loaded.pair_key, loaded.seven) == (thread.pk, thread.pair_key, 7)
    assert loaded.created == Thread.objects.get(pk=thread.pk).created
    assert timezone.is_aware(loaded.updated)
    assert not loaded._state.adding


def test_no_row_is_none():
    assert user_by_id(987654) is None
