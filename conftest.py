"""Fixtures shared by every app's tests: API clients and the people in the stories."""

import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from threads.tests.factories import ThreadFactory
from users.tests.factories import UserFactory


def client_for(user) -> APIClient:
    """An API client that sends `user`'s access token, as a real client would."""
    client = APIClient()
    if user is not None:
        token = RefreshToken.for_user(user).access_token
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


# How many requests the concurrency tests fire at once.
WORKERS = 8


def run_concurrently(calls):
    """Start every call at the same moment (a barrier), each on its own DB connection."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait()
            return call()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, dropped at the end of the run even where threads still hold a
    connection to it: the executors of asgiref and Channels keep theirs open between
    tests (as in production), and on PostgreSQL a database with sessions cannot be
    dropped. Which test runs last decides whether one is left (under pytest-xdist, any
    test may be a process's last); the database would then outlive the run."""
    yield
    with django_db_blocker.unblock():
        for alias in connections:
            connection = connections[alias]
            if connection.vendor != "postgresql":
                continue
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
        connections.close_all()


@pytest.hookimpl(trylast=True)  # after the session's fixtures, an interrupted run's too
def pytest_sessionfinish(session):
    """Remove this process's SQLite test database's -wal and -shm files, which outlive it
    when threads still held a connection as Django deleted it (see `django_db_setup`):
    each run would leave a few megabytes in the project folder."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    name = database.get("TEST", {}).get("NAME")
    if database["ENGINE"] != "django.db.backends.sqlite3" or not name:
        return
    for leftover in glob.glob(glob.escape(name) + "*-wal") + glob.glob(glob.escape(name) + "*-shm"):
        if not os.path.exists(leftover[: -len("-wal")]):
            os.remove(leftover)


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


@pytest.fixture
def bob(db):
    return UserFactory(username="bob")


@pytest.fixture
def mallory(db):
    """Someone who takes part in none of alice and bob's threads."""
    return UserFactory(username="mallory")


@pytest.fixture
def alice_client(alice) -> APIClient:
    return client_for(alice)


@pytest.fixture
def bob_client(bob) -> APIClient:
    return client_for(bob)


@pytest.fixture
def mallory_client(mallory) -> APIClient:
    return client_for(mallory)


@pytest.fixture
def moderator(db):
    """A staff member of the Moderators group (made by the threads app's migration 0009,
    threads/migrations/0009_moderators_group.py): no superuser rights. For tests in a
    transaction of their own, the group is there only until one of them has emptied the
    database (as each does when it ends)."""
    from django.contrib.auth.models import Group

    user = UserFactory(username="moderator", is_staff=True)
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


@pytest.fixture
def moderator_admin(moderator):
    """The moderator signed in to the admin (a browser's session, not an API token)."""
    from django.test import Client

    client = Client()
    client.force_login(moderator)
    return client


@pytest.fixture
def thread(alice, bob):
    """The thread between alice and bob."""
    return ThreadFactory(participants=[alice, bob])


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    """Rate-limit counters live in the cache; each test starts with none spent."""
    from django.core.cache import cache

    cache.clear()
