"""`manage.py seed_demo`: the demo data it makes is consistent, and its printed logins work."""

import re
from collections import defaultdict
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from threads.models import Message, Thread

pytestmark = pytest.mark.django_db

User = get_user_model()

# A login row of the summary: two-space indent, username, password, thread and message counts.
LOGIN_ROW = re.compile(r"^  (\S+)  +(\S+)  +[\d,]+  +[\d,]+$", re.MULTILINE)


def seed(**options) -> tuple[str, str]:
    """Run the command with small sizes unless told otherwise; return (stdout, stderr)."""
    stdout, stderr = StringIO(), StringIO()
    sizes = {"users": 12, "threads": 25, "messages": 300, "seed": 7}
    call_command("seed_demo", **{**sizes, **options}, stdout=stdout, stderr=stderr)
    return stdout.getvalue(), stderr.getvalue()


def test_creates_the_asked_numbers_of_users_threads_and_messages():
    seed(users=12, threads=25, messages=300)

    assert User.objects.count() == 12
    assert Thread.objects.count() == 25
    assert Message.objects.count() == 300


def test_every_thread_is_between_two_distinct_users_and_its_pair_key_names_them():
    seed()

    threads = Thread.objects.prefetch_related("participants")
    for thread in threads:
        ids = sorted(user.pk for user in thread.participants.all())
        assert len(ids) == 2
        assert ids[0] != ids[1]
        assert thread.pair_key == Thread.pair_key_for(*ids)
    assert len({thread.pair_key for thread in threads}) == len(threads)


def test_every_message_is_sent_by_a_participant_of_its_thread():
    seed()

    participants = defaultdict(set)
    for thread_id, user_id in Thread.participants.through.objects.values_list(
        "thread_id", "user_id"
    ):
        participants[thread_id].add(user_id)
    for thread_id, sender_id in Message.objects.values_list("thread_id", "sender_id"):
        assert sender_id in participants[thread_id]


def test_thread_times_match_its_first_and_last_message_and_grow_with_ids():
    seed()

    for thread in Thread.objects.all():
        created = list(thread.messages.order_by("id").values_list("created", flat=True))
        assert created, "with more messages than threads, every thread gets some"
        assert created == sorted(created)
        assert thread.created == created[0]
        assert thread.updated == created[-1]


def test_only_the_newest_messages_of_the_last_sender_can_be_unread():
    seed(messages=2000)

    unread_somewhere = False
    for thread in Thread.objects.all():
        rows = list(thread.messages.order_by("id").values_list("sender_id", "is_read"))
        unread = [index for index, (_, is_read) in enumerate(rows) if not is_read]
        if not unread:
            continue
        unread_somewhere = True
        # Unread messages form the tail of the thread, all from the last sender.
        assert unread == list(range(unread[0], len(rows)))
        assert {rows[index][0] for index in unread} == {rows[-1][0]}
    assert unread_somewhere


def test_printed_logins_work_through_the_api():
    stdout, _ = seed(password="another-demo-pass-42")

    logins = LOGIN_ROW.findall(stdout)
    assert len(logins) == 5
    client = APIClient()
    for username, password in logins:
        assert password == "another-demo-pass-42"
        response = client.post(
            "/api/token/", {"username": username, "password": password}, format="json"
        )
        assert response.status_code == 200, username
        assert "access" in response.data
    assert f'"username": "{logins[0][0]}"' in stdout  # the curl line logs in the busiest


def test_a_second_run_adds_new_users_and_threads_beside_the_first():
    seed()
    first_users = set(User.objects.values_list("username", flat=True))

    seed()  # same seed: the usernames it draws first are all taken and drawn again

    assert User.objects.count() == 24
    assert Thread.objects.count() == 50
    assert Message.objects.count() == 600
    second_users = set(User.objects.values_list("username", flat=True)) - first_users
    assert len(second_users) == 12
    # Threads of the second run are only among its own users.
    for thread in Thread.objects.filter(participants__username__in=second_users).distinct():
        assert {user.username for user in thread.participants.all()} <= second_users


def test_existing_accounts_are_left_alone():
    existing = User.objects.create_user(username="olivia1", password="not-the-demo-one-9")

    seed()

    existing.refresh_from_db()
    assert existing.check_password("not-the-demo-one-9")
    assert not existing.threads.exists()


def test_the_same_seed_on_the_same_database_gives_the_same_data():
    seed()
    first = list(Message.objects.order_by("id").values_list("sender__username", "text"))
    Thread.objects.all().delete()
    User.objects.all().delete()

    seed()

    assert list(Message.objects.order_by("id").values_list("sender__username", "text")) == first


def test_every_pair_can_have_its_thread():
    seed(users=6, threads=15, messages=40)

    assert Thread.objects.count() == 15


def test_fewer_messages_than_threads_leaves_some_threads_empty():
    seed(threads=10, messages=4)

    assert Message.objects.count() == 4
    assert Thread.objects.filter(messages__isnull=True).count() == 6


def test_verbosity_zero_prints_nothing():
    stdout, stderr = seed(verbosity=0)

    assert stdout == ""
    assert stderr == ""
    assert Message.objects.count() == 300


def test_progress_goes_to_stderr_and_the_summary_to_stdout():
    stdout, stderr = seed()

    assert "messages: 300" in stderr
    assert "Created 12 users, 25 threads and 300 messages" in stdout
    assert "curl" in stdout


def test_the_login_command_uses_the_port_make_run_serves_on():
    stdout, _ = seed()

    assert "http://127.0.0.1:${PORT:-8000}/api/token/" in stdout


@pytest.mark.parametrize(
    ("options", "complaint"),
    [
        ({"users": 1}, "--users"),
        ({"users": 4, "threads": 7}, "6 distinct pairs"),
        ({"threads": -1}, "negative"),
        ({"messages": -5}, "negative"),
        ({"threads": 0, "messages": 3}, "at least one thread"),
        ({"password": "12345678"}, "--password"),
    ],
)
def test_invalid_options_are_refused_before_anything_is_written(options, complaint):
    with pytest.raises(CommandError, match=complaint):
        seed(**options)

    assert not User.objects.exists()
    assert not Thread.objects.exists()
