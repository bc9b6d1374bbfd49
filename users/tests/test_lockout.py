"""Password guessing locks out: after AXES_FAILURE_LIMIT failed logins for one username, or
from one address, that username (from anywhere) or that address (for anyone) is refused for
a while, even with the right password. On the admin's login and the API's alike."""

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client

from users.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LIMIT = 5  # the default AXES_FAILURE_LIMIT
ATTACKER = "203.0.113.7"
ELSEWHERE = "198.51.100.20"


@pytest.fixture
def moderator(db):
    return UserFactory(username="moderator", is_staff=True, is_superuser=True)


def admin_login(username, password, address=ATTACKER):
    browser = Client(REMOTE_ADDR=address)
    response = browser.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "next": "/admin/"},
    )
    return response, browser


def api_login(client, username, password, address=ATTACKER, path="/api/token/"):
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def test_guessing_the_admin_password_locks_the_username_out(moderator):
    answers = [admin_login("moderator", f"guess-{n}")[0].status_code for n in range(LIMIT)]

    right, browser = admin_login("moderator", DEFAULT_PASSWORD)

    assert answers[: LIMIT - 1] == [200] * (LIMIT - 1)  # the form again, with its error
    assert answers[-1] == 429  # the failure that reaches the limit locks
    assert right.status_code == 429
    assert b"Too many failed logins" in right.content
    assert "_auth_user_id" not in browser.session


def test_the_username_stays_locked_from_another_address_and_in_any_case(moderator):
    for n in range(LIMIT):
        admin_login("moderator", f"guess-{n}")

    response, _ = admin_login("MODERATOR", DEFAULT_PASSWORD, address=ELSEWHERE)

    assert response.status_code == 429


def test_the_address_is_locked_for_every_username(moderator):
    UserFactory(username="other-mod", is_staff=True)
    for n in range(LIMIT):
        admin_login(f"someone-{n}", "guess")

    response, _ = admin_login("moderator", DEFAULT_PASSWORD)

    assert response.status_code == 429


def test_a_different_username_from_another_address_still_logs_in(moderator):
    UserFactory(username="other-mod", is_staff=True, is_superuser=True)
    for n in range(LIMIT):
        admin_login("moderator", f"guess-{n}")

    response, browser = admin_login("other-mod", DEFAULT_PASSWORD, address=ELSEWHERE)

    assert response.status_code == 302
    assert browser.get("/admin/").status_code == 200


def test_fewer_failures_than_the_limit_do_not_lock(moderator):
    for n in range(LIMIT - 1):
        admin_login("moderator", f"guess-{n}")

    response, _ = admin_login("moderator", DEFAULT_PASSWORD)

    assert response.status_code == 302


@pytest.mark.parametrize("path", ["/api/token/", "/token/refresh/"])
def test_the_api_login_under_lockout_is_a_429_in_the_apis_shape(anon_client, alice, path):
    answers = [
        api_login(anon_client, "alice", "guess", path=path).status_code for _ in range(LIMIT)
    ]

    response = api_login(anon_client, "Alice", DEFAULT_PASSWORD, address=ELSEWHERE, path=path)

    assert answers == [401] * (LIMIT - 1) + [429]
    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert response.data["code"] == "locked_out"
    assert set(response.data) == {"detail", "code"}
    assert 0 < int(response["Retry-After"]) <= 15 * 60


def test_api_and_admin_failures_add_up(anon_client, moderator):
    for _ in range(LIMIT - 1):
        api_login(anon_client, "moderator", "guess")

    response, _ = admin_login("moderator", "one-more-guess")

    assert response.status_code == 429


def test_axes_reset_lifts_every_lockout(anon_client, alice):
    for _ in range(LIMIT):
        api_login(anon_client, "alice", "guess")

    call_command("axes_reset")

    assert api_login(anon_client, "alice", DEFAULT_PASSWORD).status_code == 200


def test_axes_reset_username_lifts_the_lock_of_that_username(anon_client, alice):
    for n in range(LIMIT):
        api_login(anon_client, "Alice", "guess", address=f"192.0.2.{n + 1}")

    call_command("axes_reset_username", "alice")

    assert api_login(anon_client, "alice", DEFAULT_PASSWORD, address=ELSEWHERE).status_code == 200


def test_the_attempts_are_visible_to_the_admin(anon_client, alice, moderator):
    for _ in range(2):
        api_login(anon_client, "ALICE", "guess")
    browser = Client()
    browser.force_login(moderator)

    page = browser.get("/admin/axes/accessattempt/")

    assert page.status_code == 200
    assert AccessAttempt.objects.get().username == "alice"
    assert b"alice" in page.content
    assert browser.get("/admin/axes/accesslog/").status_code == 200


def test_a_forwarded_for_header_from_the_client_does_not_move_its_address(anon_client, alice):
    UserFactory(username="bob")
    for n in range(LIMIT):
        anon_client.post(
            "/api/token/",
            {"username": f"nobody-{n}", "password": "guess"},
            REMOTE_ADDR=ATTACKER,
            HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
        )

    assert api_login(anon_client, "bob", DEFAULT_PASSWORD).status_code == 429


@pytest.mark.parametrize("path", ["/api/token/", "/token/refresh/"])
def test_a_username_too_long_for_any_account_is_a_401_and_still_counts(anon_client, path):
    """The attempt is stored whatever was typed: a name longer than the attempts' username
    column (PostgreSQL refuses it, "value too long", a 500) is kept as far as it fits."""
    typed = "A" * 10_000

    response = api_login(anon_client, typed, "guess", path=path)

    assert response.status_code == 401
    attempt = AccessAttempt.objects.get()
    field = AccessAttempt._meta.get_field("username")
    assert attempt.username == typed.lower()[: field.max_length]


def test_the_admin_login_with_a_username_too_long_for_any_account_is_the_form_again():
    response, _ = admin_login("A" * 10_000, "guess")

    assert response.status_code == 200
    assert len(AccessAttempt.objects.get().username) <= 255
