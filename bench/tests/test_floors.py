"""The benchmark's floor views (bench/floors.py) answer what the API answers, authenticate
as it does, and exist only under the benchmark's URLconf (bench/urls.py)."""

from datetime import timedelta

import jwt
import pytest
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from conftest import client_for
from threads.models import Change, Inbox, Message
from threads.services import reaction_add
from threads.tests.factories import MessageFactory, ThreadFactory
from users.tests.factories import UserFactory

bench_urls = pytest.mark.urls("bench.urls")


@pytest.fixture
def history(thread, alice, bob):
    """Seven messages, alternating senders, in alice and bob's thread, some reacted to."""
    messages = [
        MessageFactory(thread=thread, sender=alice if n % 2 else bob, text=f"message {n}")
        for n in range(7)
    ]
    for message, user, emoji in [
        (messages[6], bob, "👍"),
        (messages[6], alice, "👍"),
        (messages[6], alice, "🎉"),
        (messages[4], bob, "❤️"),
        (messages[1], alice, "😂"),
    ]:
        reaction_add(thread_id=thread.pk, message_id=message.pk, user=user, emoji=emoji)
    return messages


def test_the_project_urlconf_has_no_floors(alice_client):
    assert alice_client.get("/bench-floor/unread/").status_code == 404


def test_the_project_settings_know_nothing_of_the_benchmark(settings):
    assert settings.ROOT_URLCONF == "chat_project.urls"
    assert not any("bench" in name.lower() for name in dir(settings._wrapped))


@bench_urls
@pytest.mark.parametrize("limit", [1, 3, 20])
def test_the_message_page_floors_answer_the_api_rows(alice_client, thread, history, limit):
    api = alice_client.get(f"/api/threads/{thread.pk}/messages/?limit={limit}").json()
    floor = alice_client.get(f"/bench-floor/threads/{thread.pk}/messages/?limit={limit}").json()

    assert floor["results"] == api["results"]
    assert floor["count"] == api["count"] == 7
    assert (floor["next"] is None) == (api["next"] is None)

    before = history[5].pk
    api = alice_client.get(f"/api/threads/{thread.pk}/messages/?before={before}&limit={limit}")
    floor = alice_client.get(
        f"/bench-floor/threads/{thread.pk}/messages/?before={before}&limit={limit}"
    )
    assert floor.json() == api.json()


@bench_urls
@pytest.mark.parametrize("limit", [1, 2, 20])
def test_the_thread_list_floor_answers_the_api_rows(alice, bob, history, limit):
    MessageFactory(thread=ThreadFactory(participants=[alice, UserFactory()]))
    ThreadFactory(participants=[alice, UserFactory()])  # no message yet
    ThreadFactory(participants=[bob, UserFactory()])

    for client in (client_for(alice), client_for(bob)):  # the other one newer, then older
        api = client.get(f"/api/threads/?limit={limit}").json()
        floor = client.get(f"/bench-floor/threads/?limit={limit}").json()

        assert floor["results"] == api["results"]
        assert floor["count"] == api["count"]
        assert (floor["next"] is None) == (api["next"] is None)


@bench_urls
def test_the_other_floors(alice_client, bob, thread, history):
    assert (
        alice_client.get("/bench-floor/unread/").json()
        == alice_client.get("/api/threads/unread_count/").json()
    )
    marked = alice_client.patch(f"/bench-floor/threads/{thread.pk}/mark_read/")
    assert marked.json() == {"marked": 4}  # bob's four
    posted = alice_client.post(
        f"/bench-floor/threads/{thread.pk}/post/", {"text": "hello"}, format="json"
    )
    assert posted.status_code == 201
    assert Message.objects.get(pk=posted.json()["id"]).text == "hello"
    # Logged for both participants, as the API's post is: each one's newest change.
    logged = Change.objects.filter(message_id=posted.json()["id"], kind="message.created")
    assert sorted(logged.values_list("user_id", "cursor")) == sorted(
        Inbox.objects.filter(user__in=thread.participants.all()).values_list(
            "user_id", "change_cursor"
        )
    )
    assert logged.count() == 2
    # The thread's and both memberships' read state moved, as the API's post moves them.
    [alices] = alice_client.get("/api/threads/").json()["results"]
    [bobs] = client_for(bob).get("/api/threads/").json()["results"]
    assert alices["last_message"]["id"] == bobs["last_message"]["id"] == posted.json()["id"]
    assert (alices["unread_count"], bobs["unread_count"]) == (0, 4)  # alice's three, and this
    assert alice_client.get(f"/api/threads/{thread.pk}/messages/").json()["count"] == 8


@bench_urls
def test_a_floor_refuses_a_stranger(mallory_client, thread, history):
    assert mallory_client.get(f"/bench-floor/threads/{thread.pk}/messages/").status_code == 404
    before = f"/bench-floor/threads/{thread.pk}/messages/?before={history[-1].pk}"
    assert mallory_client.get(before).status_code == 404
    posted = mallory_client.post(
        f"/bench-floor/threads/{thread.pk}/post/", {"text": "hi"}, format="json"
    )
    assert posted.status_code == 404
    assert not Message.objects.filter(text="hi").exists()
    marked = mallory_client.patch(f"/bench-floor/threads/{thread.pk}/mark_read/")
    assert marked.json() == {"marked": 0}


@bench_urls
def test_a_floor_refuses_what_the_api_refuses(alice, anon_client, thread, history):
    expired = AccessToken.for_user(alice)
    expired.set_exp(lifetime=timedelta(seconds=-1))
    refresh = RefreshToken.for_user(alice)
    path = f"/bench-floor/threads/{thread.pk}/messages/"
    for header in ["", f"Bearer {expired}", f"Bearer {refresh}", "Bearer not-a-token"]:
        assert anon_client.get(path, HTTP_AUTHORIZATION=header).status_code == 401
    forged = jwt.encode(
        AccessToken.for_user(alice).payload, "another-key-" + "x" * 40, algorithm="HS256"
    )
    assert anon_client.get(path, HTTP_AUTHORIZATION=f"Bearer {forged}").status_code == 401
    valid = AccessToken.for_user(alice)
    assert anon_client.get(path, HTTP_AUTHORIZATION=f"Bearer {valid}").status_code == 200
