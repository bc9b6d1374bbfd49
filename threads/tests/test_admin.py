"""Moderators in the Django admin: browse, search, filter and delete threads and messages."""

import pytest
from django.test import Client

from threads.models import Message, Thread
from threads.tests.factories import MessageFactory
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator_client() -> Client:
    client = Client()
    client.force_login(UserFactory(username="moderator", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def message(thread, bob):
    return MessageFactory(thread=thread, sender=bob, text="<script>alert('x')</script> hello")


def test_thread_list_shows_participants_and_message_count(moderator_client, thread, message):
    response = moderator_client.get("/admin/threads/thread/")

    assert response.status_code == 200
    body = response.content.decode()
    assert "alice, bob" in body
    assert '<td class="field-message_count">1</td>' in body


def test_thread_page_shows_its_messages_inline(moderator_client, thread, message):
    response = moderator_client.get(f"/admin/threads/thread/{thread.pk}/change/")

    assert response.status_code == 200
    assert "hello" in response.content.decode()


def test_message_list_search_and_filters(moderator_client, message, alice, thread):
    MessageFactory(thread=thread, sender=alice, text="unrelated")

    by_text = moderator_client.get("/admin/threads/message/", {"q": "hello"})
    by_user = moderator_client.get("/admin/threads/message/", {"q": "alice"})
    unread = moderator_client.get("/admin/threads/message/", {"is_read__exact": "0"})

    assert by_text.status_code == by_user.status_code == unread.status_code == 200
    assert "hello" in by_text.content.decode()
    assert "unrelated" not in by_text.content.decode()
    assert "unrelated" in by_user.content.decode()
    assert "1 message" in by_text.content.decode()


def test_message_text_is_never_rendered_as_html(moderator_client, message):
    for path in ("/admin/threads/message/", f"/admin/threads/message/{message.pk}/change/"):
        body = moderator_client.get(path).content.decode()

        assert "<script>alert" not in body
        assert "&lt;script&gt;" in body


def test_moderator_can_delete_a_message(moderator_client, message):
    response = moderator_client.post(
        f"/admin/threads/message/{message.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Message.objects.filter(pk=message.pk).exists()


def test_moderator_can_delete_a_thread_with_its_messages(moderator_client, thread, message):
    response = moderator_client.post(f"/admin/threads/thread/{thread.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Thread.objects.exists()
    assert not Message.objects.exists()


def test_admin_cannot_write_messages_as_a_user(moderator_client, message):
    assert moderator_client.get("/admin/threads/message/add/").status_code == 403
    assert moderator_client.get("/admin/threads/thread/add/").status_code == 403
    moderator_client.post(f"/admin/threads/message/{message.pk}/change/", {"text": "rewritten"})
    message.refresh_from_db()
    assert "hello" in message.text


def test_admin_requires_staff(alice):
    client = Client()
    client.force_login(alice)

    response = client.get("/admin/threads/message/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
