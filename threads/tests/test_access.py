"""Who may touch a thread: its two participants, and nobody else.

A stranger gets 404 on every endpoint of a thread, as if it did not exist, and changes
nothing; an anonymous or badly authenticated client gets 401 everywhere.
"""

from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from threads.models import Message, Thread
from threads.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db

THREAD_ENDPOINTS = [
    ("get", "/api/threads/{id}/"),
    ("get", "/api/threads/{id}"),
    ("delete", "/api/threads/{id}/"),
    ("get", "/api/threads/{id}/messages/"),
    ("get", "/api/threads/{id}/messages"),
    ("post", "/api/threads/{id}/messages"),
    ("patch", "/api/threads/{id}/mark_read"),
    ("patch", "/api/threads/{id}/mark_read/"),
    ("get", "/api/threads/{id}/unread_count"),
    ("get", "/api/threads/{id}/unread_count/"),
    ("get", "/api/threads/{id}/messages/1/"),
    ("patch", "/api/threads/{id}/messages/1/"),
    ("delete", "/api/threads/{id}/messages/1/"),
]
ALL_ENDPOINTS = [
    *THREAD_ENDPOINTS,
    ("get", "/api/threads/"),
    ("post", "/api/threads/"),
    ("get", "/api/threads/unread_count/"),
    ("get", "/api/users/"),
    ("get", "/api/users/1/"),
    ("get", "/api/user/me/"),
    ("get", "/api/user/blocks/"),
    ("post", "/api/user/blocks/"),
    ("delete", "/api/user/blocks/1/"),
    ("get", "/api/messages/"),
]


@pytest.mark.parametrize(("method", "path"), THREAD_ENDPOINTS)
def test_a_stranger_gets_404_and_changes_nothing(mallory_client, bob, thread, method, path):
    MessageFactory(thread=thread, sender=bob, text="private")

    response = getattr(mallory_client, method)(path.format(id=thread.pk), {"text": "intrusion"})

    assert response.status_code == 404
    assert "private" not in response.content.decode()
    assert Thread.objects.filter(pk=thread.pk).exists()
    assert list(Message.objects.values_list("text", "is_read")) == [("private", False)]


@pytest.mark.parametrize(("method", "path"), THREAD_ENDPOINTS)
def test_an_unknown_thread_is_404(alice_client, method, path):
    response = getattr(alice_client, method)(path.format(id=987654), {"text": "x"})

    assert response.status_code == 404


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "x" * 5001}, {"client_id": "no"}])
def test_a_stranger_posting_a_bad_body_gets_404_not_its_errors(mallory_client, thread, body):
    response = mallory_client.post(f"/api/threads/{thread.pk}/messages", body)

    assert response.status_code == 404
    assert not Message.objects.exists()


@pytest.mark.parametrize("path", ["/api/threads/abc/", "/api/threads/1.5/", "/api/threads/-1/"])
def test_a_non_numeric_thread_id_is_404(alice_client, path):
    assert alice_client.get(path).status_code == 404


def test_a_stranger_does_not_see_the_thread_in_lists_or_totals(mallory_client, bob, thread):
    MessageFactory(thread=thread, sender=bob)

    assert mallory_client.get("/api/threads/").data["count"] == 0
    assert mallory_client.get("/api/threads/unread_count/").data == {"unread_count": 0}


@pytest.mark.parametrize(("method", "path"), ALL_ENDPOINTS)
def test_anonymous_client_gets_401(anon_client, thread, method, path):
    response = getattr(anon_client, method)(path.format(id=thread.pk), {"text": "x"})

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer not.a.token",
        "Bearer a b",
        "Token abc",
        "Basic YWxpY2U6cHc=",
        "Bearer \x00",
    ],
)
def test_malformed_token_gets_401(anon_client, thread, header):
    anon_client.credentials(HTTP_AUTHORIZATION=header)

    response = anon_client.get("/api/threads/")

    assert response.status_code == 401


def test_expired_token_gets_401(anon_client, alice, thread):
    token = AccessToken.for_user(alice)
    token.set_exp(lifetime=-timedelta(seconds=1))
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = anon_client.get(f"/api/threads/{thread.pk}/")

    assert response.status_code == 401


def test_refresh_token_is_not_accepted_as_access_token(anon_client, alice, thread):
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(alice)}")

    assert anon_client.get("/api/threads/").status_code == 401


def test_token_of_a_deactivated_user_gets_401(alice_client, alice, thread):
    alice.is_active = False
    alice.save()

    assert alice_client.get("/api/threads/").status_code == 401
