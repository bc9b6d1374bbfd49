"""Catch-up sync: a client that was away asks what changed since its cursor
(`GET /api/sync/`) and learns every change, in order, once; nobody else's."""

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from threads.models import Change, Inbox
from users.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def sync(client, **params):
    response = client.get("/api/sync/", params)
    assert response.status_code == 200, response.data
    return response.data


def cursor_now(client) -> int:
    return sync(client)["cursor"]


def everything_since(client, since: int, *, limit: int = 100) -> list[dict]:
    """Every change after `since`, synced page by page as a client does."""
    changes = []
    while True:
        page = sync(client, since=since, limit=limit)
        changes += page["changes"]
        since = page["cursor"]
        if not page["has_more"]:
            return changes


def test_a_client_that_was_away_learns_every_change_in_order_once(
    alice, bob, alice_client, bob_client, thread
):
    since = cursor_now(bob_client)
    url = f"/api/threads/{thread.pk}/messages"
    first = alice_client.post(url, {"text": "one"}).data
    second = alice_client.post(url, {"text": "two"}).data
    alice_client.patch(f"{url}/{first['id']}/", {"text": "one, edited"})
    alice_client.delete(f"{url}/{second['id']}/")
    bob_client.patch(f"/api/threads/{thread.pk}/mark_read")
    alice_client.put(f"{url}/{first['id']}/reactions/%F0%9F%91%8D")
    alice_client.delete(f"{url}/{first['id']}/reactions/%F0%9F%91%8D")
    alice_client.delete(f"/api/threads/{thread.pk}/")

    changes = everything_since(bob_client, since, limit=3)

    assert [(change["type"], change.get("message")) for change in changes] == [
        ("message.created", first["id"]),
        ("message.created", second["id"]),
        ("message.updated", first["id"]),
        ("message.deleted", second["id"]),
        ("thread.read", None),
        ("reaction.added", first["id"]),
        ("reaction.removed", first["id"]),
        ("thread.deleted", None),
    ]
    assert [change["cursor"] for change in changes] == list(range(since + 1, since + 9))
    assert {change["thread"] for change in changes} == {thread.pk}
    assert sync(bob_client, since=changes[-1]["cursor"]) == {
        "changes": [],
        "cursor": changes[-1]["cursor"],
        "has_more": False,
    }


def test_each_change_is_the_event_the_socket_sends(alice, bob, alice_client, bob_client, thread):
    since = cursor_now(bob_client)
    posted = alice_client.post(f"/api/threads/{thread.pk}/messages", {"text": "hi"}).data
    bob_client.patch(f"/api/threads/{thread.pk}/mark_read")

    created, read = sync(bob_client, since=since)["changes"]

    # The message as the REST API shows it now (read since it was posted).
    now = bob_client.get(f"/api/threads/{thread.pk}/messages/{posted['id']}/").data
    assert now == {**posted, "is_read": True}
    assert created == {
        "type": "message.created",
        "thread": thread.pk,
        "message": posted["id"],
        "data": now,
        "cursor": since + 1,
    }
    # The reader's own copy of a receipt also says what still waits for them.
    assert read == {
        "type": "thread.read",
        "thread": thread.pk,
        "reader": bob.pk,
        "up_to": posted["id"],
        "unread_count": 0,
        "cursor": since + 2,
    }
    # The sender's copy does not.
    (alices,) = sync(alice_client, since=cursor_now(alice_client) - 1)["changes"]
    assert {**alices, "cursor": None} == {
        "type": "thread.read",
        "thread": thread.pk,
        "reader": bob.pk,
        "up_to": posted["id"],
        "cursor": None,
    }


def test_a_new_thread_is_a_change_for_both_people(alice, bob, alice_client, bob_client):
    since = {client: cursor_now(client) for client in (alice_client, bob_client)}

    created = alice_client.post("/api/threads/", {"participants": [bob.pk]}).data

    for client in (alice_client, bob_client):
        (change,) = sync(client, since=since[client])["changes"]
        assert change["type"] == "thread.created"
        assert change["data"] == client.get(f"/api/threads/{created['id']}/").data


def test_nobody_learns_of_changes_in_threads_not_theirs(alice_client, mallory_client, thread):
    since = cursor_now(mallory_client)

    alice_client.post(f"/api/threads/{thread.pk}/messages", {"text": "private"})
    alice_client.delete(f"/api/threads/{thread.pk}/")

    assert sync(mallory_client, since=since)["changes"] == []
    assert sync(mallory_client, since=0)["changes"] == []


def test_a_change_that_failed_is_not_in_the_log(alice, bob, alice_client, bob_client, thread):
    since = cursor_now(bob_client)
    bob_client.post("/api/user/blocks/", {"user": alice.pk})

    refused = alice_client.post(f"/api/threads/{thread.pk}/messages", {"text": "hello?"})

    assert refused.status_code == 403
    assert sync(bob_client, since=since)["changes"] == []
    assert cursor_now(bob_client) == since


def test_without_since_a_sync_answers_the_current_cursor_only(
    alice_client, bob_client, mallory_client, thread
):
    assert sync(mallory_client) == {"changes": [], "cursor": 0, "has_more": False}
    assert sync(bob_client) == {"changes": [], "cursor": 1, "has_more": False}  # the thread

    alice_client.post(f"/api/threads/{thread.pk}/messages", {"text": "hi"})

    assert sync(bob_client) == {"changes": [], "cursor": 2, "has_more": False}
    assert [change["cursor"] for change in sync(bob_client, since=0)["changes"]] == [1, 2]


def test_a_page_says_whether_more_follow(alice_client, bob_client, thread):
    for text in ("a", "b", "c"):
        alice_client.post(f"/api/threads/{thread.pk}/messages", {"text": text})

    first = sync(bob_client, since=1, limit=2)
    rest = sync(bob_client, since=first["cursor"], limit=2)

    assert [c["data"]["text"] for c in first["changes"]] == ["a", "b"]
    assert (first["cursor"], first["has_more"]) == (3, True)
    assert [c["data"]["text"] for c in rest["changes"]] == ["c"]
    assert (rest["cursor"], rest["has_more"]) == (4, False)


@pytest.mark.parametrize(
    "params",
    [
        {"since": "-1"},
        {"since": "x"},
        {"since": str(2**63)},
        {"since": "1", "limit": "0"},
        {"since": "1", "limit": "1001"},
        {"since": "1", "limit": "many"},
    ],
)
def test_bad_parameters_are_field_errors(bob_client, params):
    response = bob_client.get("/api/sync/", params)

    assert response.status_code == 400
    assert set(response.data) <= {"since", "limit"}


def test_a_sync_needs_a_login(anon_client):
    assert anon_client.get("/api/sync/").status_code == 401


def test_a_cursor_from_no_log_of_this_server_is_refused_with_410(alice_client, bob_client, thread):
    alice_client.post(f"/api/threads/{thread.pk}/messages", {"text": "hi"})

    response = bob_client.get("/api/sync/", {"since": cursor_now(bob_client) + 1})

    assert response.status_code == 410
    assert response.data["code"] == "resync_required"


@override_settings(SYNC_RETENTION_DAYS=30)
def test_a_cursor_older_than_the_log_keeps_is_refused_with_410(alice_client, bob_client, thread):
    url = f"/api/threads/{thread.pk}/messages"
    alice_client.post(url, {"text": "old"})
    alice_client.post(url, {"text": "older than kept too"})
    Change.objects.update(created=timezone.now() - timedelta(days=31))
    alice_client.post(url, {"text": "new"})

    call_command("changes_prune", verbosity=0)

    # Pruned: the thread's creation (1) and the first two messages (2, 3).
    for since in (0, 1, 2):
        response = bob_client.get("/api/sync/", {"since": since})
        assert response.status_code == 410, since
        assert response.data["code"] == "resync_required"
    # A client that had seen everything pruned misses nothing.
    assert [c["data"]["text"] for c in sync(bob_client, since=3)["changes"]] == ["new"]


@override_settings(SYNC_RETENTION_DAYS=30)
def test_pruning_keeps_what_is_younger_than_the_retention(alice_client, bob_client, thread):
    alice_client.post(f"/api/threads/{thread.pk}/messages", {"text": "recent"})
    Change.objects.update(created=timezone.now() - timedelta(days=29))

    call_command("changes_prune", verbosity=0)

    assert [c["type"] for c in sync(bob_client, since=0)["changes"]] == [
        "thread.created",
        "message.created",
    ]


def test_a_deleted_message_leaves_no_text_in_the_log(alice_client, bob_client, thread):
    url = f"/api/threads/{thread.pk}/messages"
    posted = alice_client.post(url, {"text": "sent too soon"}).data
    alice_client.patch(f"{url}/{posted['id']}/", {"text": "sent too soon, edited"})

    alice_client.delete(f"{url}/{posted['id']}/")

    changes = sync(bob_client, since=1)["changes"]
    assert [c["type"] for c in changes] == ["message.created", "message.updated", "message.deleted"]
    assert all(c["data"]["text"] == "" and c["data"]["deleted"] for c in changes)
    assert "sent too soon" not in str(list(Change.objects.values_list("event", flat=True)))


def test_a_deleted_thread_leaves_no_text_in_the_log(alice_client, bob_client, thread):
    posted = alice_client.post(f"/api/threads/{thread.pk}/messages", {"text": "secret"}).data

    alice_client.delete(f"/api/threads/{thread.pk}/")

    created, deleted = sync(bob_client, since=1)["changes"]
    # The message is gone with its thread: the change says which, and nothing more.
    assert (created["type"], created["message"]) == ("message.created", posted["id"])
    assert created["data"] is None
    assert deleted["type"] == "thread.deleted"
    assert "secret" not in str(list(Change.objects.values_list("event", flat=True)))


@override_settings(SYNC_RETENTION_DAYS=30)
def test_a_prune_never_moves_the_pruned_cursor_back(alice_client, bob, bob_client, thread):
    url = f"/api/threads/{thread.pk}/messages"
    for text in ("two", "three", "four"):
        alice_client.post(url, {"text": text})
    # Another prune, running at the same time, has removed bob's change 3.
    Change.objects.filter(user=bob, cursor=3).delete()
    Inbox.objects.filter(pk=bob.pk).update(pruned_cursor=3)
    up_to_2 = Change.objects.get(user=bob, cursor=2).pk
    Change.objects.filter(pk__lte=up_to_2).update(created=timezone.now() - timedelta(days=31))

    call_command("changes_prune", verbosity=0)  # removes 1 and 2

    assert Inbox.objects.get(pk=bob.pk).pruned_cursor == 3
    response = bob_client.get("/api/sync/", {"since": 2})  # 3 is gone: not a 200 without it
    assert response.status_code == 410, response.data


@override_settings(SYNC_RETENTION_DAYS=30)
def test_pruning_stops_at_the_first_change_young_enough_to_keep(alice_client, bob_client, thread):
    url = f"/api/threads/{thread.pk}/messages"
    for text in ("old", "new", "out of order"):
        alice_client.post(url, {"text": text})
    ids = list(Change.objects.order_by("id").values_list("id", flat=True))
    long_ago = timezone.now() - timedelta(days=31)
    Change.objects.filter(id__in=ids[:4]).update(created=long_ago)  # the thread, "old"
    Change.objects.filter(id__in=ids[-2:]).update(created=long_ago)  # "out of order"

    call_command("changes_prune", verbosity=0)

    assert list(Change.objects.order_by("id").values_list("id", flat=True)) == ids[4:]
    assert [c["data"]["text"] for c in sync(bob_client, since=2)["changes"]] == [
        "new",
        "out of order",
    ]


def test_a_message_is_synced_as_it_is_now_with_working_links(
    alice_client, bob_client, anon_client, thread
):
    upload = alice_client.post(
        f"/api/threads/{thread.pk}/attachments",
        {"file": SimpleUploadedFile("note.txt", b"hello", content_type="text/plain")},
        format="multipart",
    ).data
    url = f"/api/threads/{thread.pk}/messages"
    posted = alice_client.post(url, {"text": "draft", "attachments": [upload["id"]]}).data
    alice_client.patch(f"{url}/{posted['id']}/", {"text": "final"})
    alice_client.put(f"{url}/{posted['id']}/reactions/%F0%9F%91%8D")

    created, updated, _ = sync(bob_client, since=1)["changes"]

    for change in (created, updated):
        assert change["data"] == bob_client.get(f"{url}/{posted['id']}/").data
        assert change["data"]["text"] == "final"
        assert change["data"]["reactions"] == [{"emoji": "👍", "count": 1, "me": False}]
    link = created["data"]["attachments"][0]["url"]
    assert anon_client.get(link).status_code == 200  # a signed link, fresh


def test_an_account_removed_by_an_admin_takes_its_log_and_tells_the_other_person(
    alice, bob_client, thread, admin_client
):
    since = cursor_now(bob_client)

    response = admin_client.post(f"/admin/users/user/{alice.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not Change.objects.filter(user_id=alice.pk).exists()
    assert [c["type"] for c in sync(bob_client, since=since)["changes"]] == ["thread.deleted"]


def test_a_closed_account_shows_in_the_log_as_everywhere_else(
    alice, alice_client, bob_client, thread
):
    url = f"/api/threads/{thread.pk}/messages"
    posted = alice_client.post(url, {"text": "bye"}).data
    alice_client.put(f"{url}/{posted['id']}/reactions/%F0%9F%91%8D")

    closed = alice_client.delete("/api/user/me/", {"current_password": DEFAULT_PASSWORD})

    assert closed.status_code == 204
    anonymised = bob_client.get(url).data["results"][0]["sender_detail"]
    assert anonymised == {"id": alice.pk, "username": f"deleted-{alice.pk}"}
    created, message, reaction = sync(bob_client, since=0)["changes"]
    assert anonymised in created["data"]["participants_detail"]
    assert message["data"]["sender_detail"] == anonymised
    assert reaction["user_detail"] == anonymised
    assert "alice" not in str([created, message, reaction])
