"""A username logs in in any letter case, on every login path: names are unique regardless
of case, so "ALICE" can only mean alice."""

import pytest
from django.test import Client

from users.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/token/", "/token/refresh/"])
@pytest.mark.parametrize("typed", ["SA_A", "Sa_a", "sa_a"])
def test_any_case_of_the_username_logs_in_to_the_api(anon_client, path, typed):
    user = UserFactory(username="sa_a")

    response = anon_client.post(path, {"username": typed, "password": DEFAULT_PASSWORD})

    assert response.status_code == 200
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.data['access']}")
    assert anon_client.get("/api/user/me/").data["id"] == user.pk


@pytest.mark.parametrize("path", ["/api/token/", "/token/refresh/"])
def test_any_case_with_a_wrong_password_is_still_401(anon_client, path):
    UserFactory(username="sa_a")

    response = anon_client.post(path, {"username": "SA_A", "password": "wrong-password"})

    assert response.status_code == 401


def test_a_name_that_only_looks_alike_does_not_log_in(anon_client):
    UserFactory(username="sa_a")

    response = anon_client.post("/api/token/", {"username": "sa%a", "password": DEFAULT_PASSWORD})

    assert response.status_code == 401


def test_a_moderator_logs_in_to_the_admin_in_any_case():
    UserFactory(username="moderator", is_staff=True, is_superuser=True)
    browser = Client()

    response = browser.post(
        "/admin/login/?next=/admin/",
        {"username": "Moderator", "password": DEFAULT_PASSWORD, "next": "/admin/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_the_admin_refuses_a_wrong_password_in_any_case():
    UserFactory(username="moderator", is_staff=True, is_superuser=True)
    browser = Client()

    response = browser.post(
        "/admin/login/?next=/admin/",
        {"username": "MODERATOR", "password": "wrong-password", "next": "/admin/"},
    )

    assert response.status_code == 200  # the form again, with its error
    assert "_auth_user_id" not in browser.session


@pytest.mark.parametrize("path", ["/api/token/", "/token/refresh/"])
def test_a_non_ascii_letter_that_lowercases_to_ascii_does_not_log_in(anon_client, path):
    """The Kelvin sign "K" (U+212A) lowercases to "k" in Python: names are ASCII, so a name
    with it names no account."""
    UserFactory(username="kelvin")

    response = anon_client.post(path, {"username": "\u212aelvin", "password": DEFAULT_PASSWORD})

    assert response.status_code == 401
