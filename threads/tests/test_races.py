"""Races a client can run into, forced into a fixed order so that they are repeatable.

Each test makes the other party's action land in the middle of a request (by wrapping
the step the request takes just before), then checks the API answers a clean 4xx or the
right result, and that nothing is lost, duplicated or brought back.
"""

import pytest
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from threads.models import Message, Thread
from threads.tests.factories import MessageFactory
from threads.views import ThreadViewSet

pytestmark = pytest.mark.django_db


def test_the_database_refuses_a_second_thread_for_a_pair(thread):
    with pytest.raises(IntegrityError), transaction.atomic():
        Thread.objects.create(pair_key=thread.pair_key)


def test_losing_the_create_race_returns_the_winners_thread(alice_client, alice, bob, monkeypatch):
    """Both requests look, find nothing, and insert; the second insert hits the unique key."""
    from threads.services import thread_get_or_create

    winner = {}
    original_first = QuerySet.first

    def first_after_the_other_request_created_it(queryset):
        if queryset.model is Thread and not winner:
            # The other request's transaction commits between our look-up and our insert.
            monkeypatch.setattr(QuerySet, "first", original_first)
            winner["thread"], _ = thread_get_or_create(requester=bob, other=alice)
            return None
        return original_first(queryset)

    monkeypatch.setattr(QuerySet, "first", first_after_the_other_request_created_it)

    response = alice_client.post("/api/threads/", {"participants": [bob.pk]})

    assert response.status_code == 200
    assert response.data["id"] == winner["thread"].pk
    assert Thread.objects.count() == 1


def deleting_the_thread_after_lookup(monkeypatch):
    original = ThreadViewSet.get_object

    def get_object_then_the_other_participant_deletes(view):
        thread = original(view)
        Thread.objects.filter(pk=thread.pk).delete()
        return thread

    monkeypatch.setattr(ThreadViewSet, "get_object", get_object_then_the_other_participant_deletes)


def test_posting_into_a_thread_deleted_meanwhile_is_404(alice_client, thread, monkeypatch):
    from threads import views

    original = views.message_send

    def the_other_participant_deletes_it_first(**kwargs):
        Thread.objects.filter(pk=kwargs["thread_id"]).delete()
        return original(**kwargs)

    monkeypatch.setattr(views, "message_send", the_other_participant_deletes_it_first)

    response = alice_client.post(f"/api/threads/{thread.pk}/messages", {"text": "hello?"})

    assert response.status_code == 404
    assert response.data["code"] == "not_found"
    assert not Message.objects.exists()


def test_editing_in_a_thread_deleted_meanwhile_is_404(alice_client, alice, thread, monkeypatch):
    message = MessageFactory(thread=thread, sender=alice)
    original = ThreadViewSet.get_object

    def get_object_then_thread_goes(view):
        found = original(view)
        if view.request.method == "PATCH":
            Thread.objects.filter(pk=found.pk).delete()
        return found

    monkeypatch.setattr(ThreadViewSet, "get_object", get_object_then_thread_goes)
    url = f"/api/threads/{thread.pk}/messages/{message.pk}/"
    response = alice_client.patch(url, {"text": "edited"})

    assert response.status_code == 404


def test_an_edit_racing_a_delete_does_not_bring_the_text_back(
    alice_client, alice, thread, monkeypatch
):
    message = MessageFactory(thread=thread, sender=alice, text="regret")
    original = ThreadViewSet.get_object

    def get_object_then_deleted_from_another_device(view):
        found = original(view)
        Message.objects.filter(pk=message.pk).update(text="", deleted=message.created)
        return found

    monkeypatch.setattr(ThreadViewSet, "get_object", get_object_then_deleted_from_another_device)
    response = alice_client.patch(
        f"/api/threads/{thread.pk}/messages/{message.pk}/", {"text": "regret, edited"}
    )

    assert response.status_code == 409
    message.refresh_from_db()
    assert message.text == ""


def test_a_retry_whose_original_went_with_its_thread_is_404(alice_client, thread, monkeypatch):
    """The retry finds the client_id taken; before it reads the original back, the other
    participant deletes the thread (and the original with it)."""
    url = f"/api/threads/{thread.pk}/messages"
    body = {"text": "hello", "client_id": "6f1c2b1e-1d7e-4a53-9a4c-4f1f8f9b2a10"}
    assert alice_client.post(url, body).status_code == 201
    original_first = QuerySet.first

    def first_after_the_thread_is_deleted(queryset):
        if queryset.model is Message:
            Thread.objects.filter(pk=thread.pk).delete()
        return original_first(queryset)

    monkeypatch.setattr(QuerySet, "first", first_after_the_thread_is_deleted)

    response = alice_client.post(url, body)

    assert response.status_code == 404
    assert response.data["code"] == "not_found"
