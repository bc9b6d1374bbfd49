"""Finding people: the user directory and the requester's own account."""

import pytest

from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_search_finds_users_by_part_of_the_username_prefix_first(alice_client):
    for name in ("xbobby", "bob", "bobcat", "alicia", "bobo"):
        UserFactory(username=name)

    response = alice_client.get("/api/users/", {"search": "bob"})

    assert response.status_code == 200
    assert [u["username"] for u in response.data["results"]] == ["bob", "bobcat", "bobo", "xbobby"]
    assert set(response.data["results"][0]) == {"id", "username"}


def test_search_ignores_case(alice_client, bob):
    response = alice_client.get("/api/users/", {"search": "BOB"})

    assert response.data["results"] == [{"id": bob.pk, "username": "bob"}]


def test_directory_without_search_lists_everyone_active_paginated(alice_client, alice, bob):
    UserFactory(username="ghost", is_active=False)

    response = alice_client.get("/api/users/", {"limit": 1})

    assert response.data["count"] == 2
    assert response.data["results"] == [{"id": alice.pk, "username": "alice"}]
    assert response.data["next"] is not None


def test_search_without_match_is_empty(alice_client):
    response = alice_client.get("/api/users/", {"search": "nobody-has-this-name"})

    assert response.status_code == 200
    assert response.data["count"] == 0


def test_deactivated_users_are_not_found(alice_client):
    ghost = UserFactory(username="ghost", is_active=False)

    assert alice_client.get("/api/users/", {"search": "ghost"}).data["count"] == 0
    assert alice_client.get(f"/api/users/{ghost.pk}/").status_code == 404


def test_get_one_user(alice_client, bob):
    response = alice_client.get(f"/api/users/{bob.pk}/")

    assert response.status_code == 200
    assert response.data == {"id": bob.pk, "username": "bob"}


def test_unknown_user_is_404(alice_client):
    response = alice_client.get("/api/users/987654/")

    assert response.status_code == 404
    assert response.data == {"detail": "No User matches the given query.", "code": "not_found"}


def test_directory_needs_a_token(anon_client):
    assert anon_client.get("/api/users/").status_code == 401


def test_me_returns_the_requesters_account(alice_client, alice):
    response = alice_client.get("/api/user/me/")

    assert response.status_code == 200
    assert set(response.data) == {"id", "username", "date_joined"}
    assert response.data["id"] == alice.pk
    assert response.data["username"] == "alice"


def test_me_needs_a_token(anon_client):
    assert anon_client.get("/api/user/me/").status_code == 401


@pytest.mark.parametrize("count", [1, 50])
def test_directory_queries_do_not_grow(alice_client, django_assert_max_num_queries, count):
    for _ in range(count):
        UserFactory()

    with django_assert_max_num_queries(3):
        response = alice_client.get("/api/users/", {"limit": 100})

    assert len(response.data["results"]) == count + 1
