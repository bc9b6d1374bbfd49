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
    assert "alice &amp; bob" in body
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


def test_read_filter_shows_only_read_or_unread(moderator_client, alice_client, thread, message):
    alice_client.patch(f"/api/threads/{thread.pk}/mark_read")
    MessageFactory(thread=thread, sender=thread.participants.first(), text="still unread")

    unread = moderator_client.get("/admin/threads/message/", {"is_read__exact": "0"})
    read = moderator_client.get("/admin/threads/message/", {"is_read__exact": "1"})

    assert "still unread" in unread.content.decode()
    assert "hello" not in unread.content.decode()
    assert "hello" in read.content.decode()
    assert "still unread" not in read.content.decode()


def test_date_filter(moderator_client, message):
    today = moderator_client.get(
        "/admin/threads/message/", {"created__gte": "2000-01-01T00:00:00+00:00"}
    )
    future = moderator_client.get(
        "/admin/threads/message/", {"created__gte": "2999-01-01T00:00:00+00:00"}
    )

    assert "hello" in today.content.decode()
    assert "hello" not in future.content.decode()


def test_thread_page_shows_only_the_latest_messages(moderator_client, thread, alice):
    from threads.admin import INLINE_MESSAGES

    MessageFactory(thread=thread, sender=alice, text="the very first")
    MessageFactory.create_batch(INLINE_MESSAGES, thread=thread, sender=alice, text="later")

    body = moderator_client.get(f"/admin/threads/thread/{thread.pk}/change/").content.decode()

    assert "the very first" not in body
    assert f"Search and filter all {INLINE_MESSAGES + 1} messages" in body


@pytest.mark.parametrize("count", [1, 40])
def test_admin_pages_do_not_query_per_row(
    moderator_client, thread, alice, django_assert_max_num_queries, count
):
    MessageFactory.create_batch(count, thread=thread, sender=alice)

    for path in (
        "/admin/threads/thread/",
        f"/admin/threads/thread/{thread.pk}/change/",
        "/admin/threads/message/",
    ):
        with django_assert_max_num_queries(12):
            assert moderator_client.get(path).status_code == 200


def test_thread_delete_confirmation_summarises_messages(moderator_client, thread, alice):
    MessageFactory.create_batch(30, thread=thread, sender=alice, text="one of many")

    body = moderator_client.get(f"/admin/threads/thread/{thread.pk}/delete/").content.decode()

    assert "one of many" not in body
    assert "Messages: 30" in body


def test_deleting_an_account_deletes_its_threads(
    moderator_client, alice_client, bob, thread, message
):
    response = moderator_client.post(f"/admin/users/user/{bob.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Thread.objects.filter(pk=thread.pk).exists()
    assert alice_client.get("/api/threads/unread_count/").data == {"unread_count": 0}
    assert alice_client.get("/api/threads/").data["count"] == 0
