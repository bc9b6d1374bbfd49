"""A moderator (staff, in the Moderators group, no superuser) in the admin: reads
conversations under the names people know, deletes messages and files (one at a time or a
selection) and lands back where they were, and every deletion is in the admin's log."""

import re
from html import unescape

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from threads.models import Attachment, Change, Message, Reaction, Thread
from threads.tests.factories import MessageFactory, ThreadFactory
from threads.tests.test_attachments import upload
from threads.tests.test_reactions import HEART, THUMBS_UP, react
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MESSAGES = "/admin/threads/message/"
TEXT = "See you at 8 by the old harbour gate, bring the keys"
# How the message is named: its sender, and its text cut to 40 characters.
NAMED = "bob: See you at 8 by the old harbour gate, b…"


@pytest.fixture(autouse=True)
def storage(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def superuser_admin(db) -> Client:
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def message(thread, bob):
    return MessageFactory(thread=thread, sender=bob, text=TEXT)


def text_of(response) -> str:
    """The page's text, without its tags."""
    return unescape(re.sub(r"<[^>]+>", "", response.content.decode()))


def deletions_by(user) -> list[tuple[str, str]]:
    """The admin's log of `user`'s deletions: (model, the row's name) each, oldest first."""
    entries = LogEntry.objects.filter(user=user, action_flag=DELETION).order_by("id")
    return [(entry.content_type.model, entry.object_repr) for entry in entries]


def with_file(alice_client, thread, name: str, text: str = "see attached") -> Message:
    """A message of alice's, in her thread with bob, with the file `name`."""
    file_id = upload(alice_client, thread, name=name).json()["id"]
    response = alice_client.post(
        f"/api/threads/{thread.pk}/messages", {"text": text, "attachments": [file_id]}
    )
    assert response.status_code == 201, response.content
    return Message.objects.get(pk=response.json()["id"])


# --- What they see ---------------------------------------------------------------------


def test_rows_are_named_by_participants_and_the_start_of_the_text(moderator_admin, thread, message):
    threads = moderator_admin.get("/admin/threads/thread/").content.decode()
    messages = moderator_admin.get(MESSAGES).content.decode()
    thread_page = moderator_admin.get(f"/admin/threads/thread/{thread.pk}/change/")
    confirmation = moderator_admin.get(f"{MESSAGES}{message.pk}/delete/").content.decode()
    history = moderator_admin.get(f"{MESSAGES}{message.pk}/history/").content.decode()

    assert "alice &amp; bob" in threads
    assert TEXT in messages
    assert "alice &amp; bob" in messages  # the thread column
    assert thread_page.status_code == 200
    assert NAMED in thread_page.content.decode()
    assert NAMED in confirmation
    assert NAMED in history  # title and breadcrumbs
    assert f"Message {message.pk}" not in confirmation + history


def test_a_message_its_sender_deleted_says_so(moderator_admin, alice_client, thread, alice):
    gone = MessageFactory(thread=thread, sender=alice, text="regrettable")
    alice_client.delete(f"/api/threads/{thread.pk}/messages/{gone.pk}/")
    gone.refresh_from_db()
    when = f"deleted ({gone.deleted:%Y-%m-%d %H:%M} UTC)"

    listed = moderator_admin.get(MESSAGES).content.decode()
    page = moderator_admin.get(f"{MESSAGES}{gone.pk}/change/").content.decode()
    inline = moderator_admin.get(f"/admin/threads/thread/{thread.pk}/change/").content.decode()

    assert when in listed
    assert when in page
    assert f"alice: {when}" in inline
    assert "regrettable" not in listed + page + inline


def test_a_file_is_named_by_its_name(moderator_admin, alice_client, thread):
    message = with_file(alice_client, thread, "holiday-plan.pdf")
    attachment = message.attachments.get()

    listed = moderator_admin.get("/admin/threads/attachment/").content.decode()
    page = moderator_admin.get(f"/admin/threads/attachment/{attachment.pk}/change/")

    assert "holiday-plan.pdf" in listed
    assert "<title>holiday-plan.pdf | View attachment" in page.content.decode()


def test_the_message_list_counts_exactly_without_a_show_all_link(
    moderator_admin, thread, alice, bob, message
):
    MessageFactory(thread=thread, sender=alice, text="what time again?")
    MessageFactory.create_batch(2, thread=thread, sender=alice, text="filler")

    everything = text_of(moderator_admin.get(MESSAGES))
    searched = text_of(moderator_admin.get(MESSAGES, {"q": "filler"}))
    one_thread = text_of(moderator_admin.get(MESSAGES, {"thread__id__exact": thread.pk}))
    both = text_of(moderator_admin.get(MESSAGES, {"thread__id__exact": thread.pk, "q": "harbour"}))

    assert "4 messages" in everything
    assert "2 results (4 total)" in searched
    assert "2 messages" in searched
    assert "4 messages" in one_thread
    assert "1 message" in both
    assert "Show all" not in everything + searched + one_thread + both


def test_the_count_follows_purges_and_other_threads(moderator_admin, thread, alice, mallory):
    MessageFactory.create_batch(3, thread=thread, sender=alice)
    other = ThreadFactory(participants=[mallory, alice])
    MessageFactory(thread=other, sender=mallory)
    purged = Message.objects.filter(thread=thread).first()
    moderator_admin.post(f"{MESSAGES}{purged.pk}/delete/", {"post": "yes"})

    in_thread = text_of(moderator_admin.get(MESSAGES, {"thread__id__exact": thread.pk}))
    in_other = text_of(moderator_admin.get(MESSAGES, {"thread__id__exact": other.pk}))
    everything = text_of(moderator_admin.get(MESSAGES))

    assert "2 messages" in in_thread
    assert "1 message" in in_other
    assert "3 messages" in everything
    assert Message.objects.count() == 3


def test_the_whole_list_and_a_threads_list_are_not_counted_row_by_row(
    moderator_admin, thread, alice
):
    MessageFactory.create_batch(3, thread=thread, sender=alice)

    for params in ({}, {"thread__id__exact": thread.pk}):
        with CaptureQueriesContext(connection) as queries:
            assert moderator_admin.get(MESSAGES, params).status_code == 200
        counting = [q["sql"] for q in queries if re.search(r"COUNT\(.*threads_message", q["sql"])]
        assert counting == [], params


# --- Deleting, and where they land -----------------------------------------------------


def test_deleting_a_message_returns_to_the_searched_list(moderator_admin, moderator, message):
    filters = "_changelist_filters=q%3Dharbour%26is_read__exact%3D0"
    page = moderator_admin.get(f"{MESSAGES}{message.pk}/change/?{filters}").content.decode()
    assert f'href="{MESSAGES}{message.pk}/delete/?{filters}"' in page  # the Delete link

    response = moderator_admin.post(f"{MESSAGES}{message.pk}/delete/?{filters}", {"post": "yes"})

    assert response.status_code == 302
    assert response["Location"] == f"{MESSAGES}?q=harbour&is_read__exact=0"
    assert not Message.objects.filter(pk=message.pk).exists()
    assert deletions_by(moderator) == [("message", NAMED)]
    entry = LogEntry.objects.get(user=moderator)
    assert entry.object_id == str(message.pk)


def test_deleting_from_the_threads_page_returns_to_the_threads_messages(
    moderator_admin, thread, message
):
    page = moderator_admin.get(f"/admin/threads/thread/{thread.pk}/change/").content.decode()
    link = unescape(re.search(rf'href="({MESSAGES}{message.pk}/change/[^"]*)"', page)[1])
    filters = link.split("?", 1)[1]

    response = moderator_admin.post(f"{MESSAGES}{message.pk}/delete/?{filters}", {"post": "yes"})

    assert response["Location"] == f"{MESSAGES}?thread__id__exact={thread.pk}"
    assert moderator_admin.get(response["Location"]).status_code == 200


def test_deleting_a_selection_returns_to_the_same_list_and_logs_each(
    moderator_admin, moderator, alice_client, thread, alice, bob
):
    first = MessageFactory(thread=thread, sender=bob, text="spam one")
    second = MessageFactory(thread=thread, sender=bob, text="spam two")
    kept = MessageFactory(thread=thread, sender=alice, text="a real answer")
    listed = f"{MESSAGES}?q=spam"

    response = moderator_admin.post(
        listed,
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert response["Location"] == listed
    assert list(Message.objects.values_list("pk", flat=True)) == [kept.pk]
    assert sorted(deletions_by(moderator)) == [
        ("message", "bob: spam one"),
        ("message", "bob: spam two"),
    ]
    thread.refresh_from_db()
    assert (thread.message_count, thread.last_message_id) == (1, kept.pk)
    assert alice_client.get("/api/threads/unread_count/").data == {"unread_count": 0}


def test_a_selection_across_threads_is_purged_with_each_threads_counts(
    moderator_admin, moderator, thread, alice, bob, mallory
):
    here = MessageFactory(thread=thread, sender=bob, text="spam here")
    carol = UserFactory(username="carol")
    there = MessageFactory(
        thread=ThreadFactory(participants=[mallory, carol]), sender=mallory, text="spam there"
    )
    reply = MessageFactory(thread=there.thread, sender=carol, text="who is this?")

    moderator_admin.post(
        MESSAGES,
        {"action": "delete_selected", "_selected_action": [here.pk, there.pk], "post": "yes"},
    )

    assert len(deletions_by(moderator)) == 2
    counts = dict(Thread.objects.values_list("pk", "message_count"))
    assert counts == {thread.pk: 0, there.thread_id: 1}
    assert Thread.objects.get(pk=there.thread_id).last_message_id == reply.pk


def test_deleting_a_file_takes_it_off_its_message(
    moderator_admin, moderator, alice_client, bob_client, thread
):
    message = with_file(alice_client, thread, "scan.pdf", text="the contract")
    attachment = message.attachments.get()
    filters = f"_changelist_filters=message__id__exact%3D{message.pk}"
    page = moderator_admin.get(f"{MESSAGES}{message.pk}/change/").content.decode()
    assert f"/admin/threads/attachment/{attachment.pk}/change/?{filters}" in unescape(page)
    since = bob_client.get("/api/sync/").json()["cursor"]

    response = moderator_admin.post(
        f"/admin/threads/attachment/{attachment.pk}/delete/?{filters}", {"post": "yes"}
    )

    assert response["Location"] == f"/admin/threads/attachment/?message__id__exact={message.pk}"
    assert deletions_by(moderator) == [("attachment", "scan.pdf")]
    seen = bob_client.get(f"/api/threads/{thread.pk}/messages/{message.pk}/").json()
    assert (seen["text"], seen["attachments"], seen["edited"]) == ("the contract", [], None)
    (change,) = bob_client.get("/api/sync/", {"since": since}).json()["changes"]
    assert (change["type"], change["message"], change["data"]["attachments"]) == (
        "message.updated",
        message.pk,
        [],
    )


def test_deleting_a_selection_of_files_logs_each(moderator_admin, moderator, alice_client, thread):
    first = with_file(alice_client, thread, "a.pdf").attachments.get()
    second = with_file(alice_client, thread, "b.pdf").attachments.get()

    response = moderator_admin.post(
        "/admin/threads/attachment/",
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not Attachment.objects.exists()
    assert sorted(deletions_by(moderator)) == [("attachment", "a.pdf"), ("attachment", "b.pdf")]
    assert set(Message.objects.values_list("attachment_count", flat=True)) == {0}


def test_a_message_deleted_with_its_files_says_so_and_removes_them(
    moderator_admin, moderator, alice_client, thread
):
    message = with_file(alice_client, thread, "scan.pdf")

    confirmation = moderator_admin.get(f"{MESSAGES}{message.pk}/delete/").content.decode()
    moderator_admin.post(f"{MESSAGES}{message.pk}/delete/", {"post": "yes"})

    assert "Attachments: 1" in confirmation
    assert not Attachment.objects.exists()
    assert deletions_by(moderator) == [("message", "alice: see attached")]


def with_reactions_and_file(alice_client, bob_client, thread, name: str) -> Message:
    """A message of alice's with the file `name`, 👍 from bob and ❤️ from alice: rows
    that go with it (its reactions, its file) and entries in both people's change logs."""
    message = with_file(alice_client, thread, name, text=f"about {name}")
    assert react(bob_client, message, THUMBS_UP).status_code == 201
    assert react(alice_client, message, HEART).status_code == 201
    return message


def changes_seen(client, since: int) -> list[tuple[str, int]]:
    response = client.get("/api/sync/", {"since": since})
    assert response.status_code == 200, response.content
    return [(change["type"], change.get("message")) for change in response.json()["changes"]]


def test_a_message_with_reactions_files_and_change_log_entries_is_deleted(
    moderator_admin, moderator, alice_client, bob_client, thread
):
    since = bob_client.get("/api/sync/").json()["cursor"]
    message = with_reactions_and_file(alice_client, bob_client, thread, "scan.pdf")
    assert Change.objects.filter(message_id=message.pk).count() >= 4  # sent, 2 reactions

    confirmation = moderator_admin.get(f"{MESSAGES}{message.pk}/delete/")
    response = moderator_admin.post(f"{MESSAGES}{message.pk}/delete/", {"post": "yes"})

    # Django's confirmation checks the delete permission of every related row it
    # collects that has an admin of its own: nothing stands in the moderator's way.
    page = text_of(confirmation)
    assert confirmation.status_code == 200
    assert "Cannot delete" not in page
    assert "Reactions: 2" in page
    assert "Attachments: 1" in page
    assert response.status_code == 302
    assert not Message.objects.filter(pk=message.pk).exists()
    assert not Reaction.objects.exists()
    assert not Attachment.objects.exists()
    assert deletions_by(moderator) == [("message", "alice: about scan.pdf")]
    seen = changes_seen(bob_client, since)
    assert seen[-1] == ("message.deleted", message.pk)
    assert ("message.created", message.pk) in seen


def test_a_selection_of_messages_with_reactions_files_and_change_log_entries_is_deleted(
    moderator_admin, moderator, alice_client, bob_client, thread
):
    since = bob_client.get("/api/sync/").json()["cursor"]
    first = with_reactions_and_file(alice_client, bob_client, thread, "a.pdf")
    second = with_reactions_and_file(alice_client, bob_client, thread, "b.pdf")
    selected = {"action": "delete_selected", "_selected_action": [first.pk, second.pk]}

    confirmation = moderator_admin.post(MESSAGES, selected)
    response = moderator_admin.post(MESSAGES, {**selected, "post": "yes"})

    page = text_of(confirmation)
    assert confirmation.status_code == 200
    assert "Cannot delete" not in page
    assert "Reactions: 4" in page
    assert "Attachments: 2" in page
    assert response.status_code == 302
    assert not Message.objects.exists()
    assert not Reaction.objects.exists()
    assert not Attachment.objects.exists()
    assert sorted(deletions_by(moderator)) == [
        ("message", "alice: about a.pdf"),
        ("message", "alice: about b.pdf"),
    ]
    thread.refresh_from_db()
    assert (thread.message_count, thread.last_message_id) == (0, None)
    seen = changes_seen(bob_client, since)
    assert sorted(seen[-2:]) == sorted(
        [("message.deleted", first.pk), ("message.deleted", second.pk)]
    )


# --- What they may not do --------------------------------------------------------------


def test_a_moderator_cannot_delete_threads(moderator_admin, thread, message):
    assert moderator_admin.get(f"/admin/threads/thread/{thread.pk}/delete/").status_code == 403
    response = moderator_admin.post(
        "/admin/threads/thread/",
        {"action": "delete_selected", "_selected_action": [thread.pk], "post": "yes"},
    )

    assert Thread.objects.filter(pk=thread.pk).exists()
    assert not LogEntry.objects.exists()
    assert response.status_code in (200, 302)


def test_a_moderator_cannot_write_or_edit_messages(moderator_admin, message):
    page = moderator_admin.get(f"{MESSAGES}{message.pk}/change/").content.decode()
    response = moderator_admin.post(f"{MESSAGES}{message.pk}/change/", {"text": "rewritten"})

    assert 'name="_save"' not in page
    assert response.status_code == 403
    assert moderator_admin.get(f"{MESSAGES}add/").status_code == 403
    message.refresh_from_db()
    assert message.text.startswith("See you at 8")


# --- A superuser's thread deletions are logged too -------------------------------------


def test_a_superusers_thread_deletions_are_logged_one_by_one(
    superuser_admin, thread, message, alice, mallory
):
    other = ThreadFactory(participants=[mallory, alice])
    third = ThreadFactory(participants=[mallory, UserFactory(username="carol")])
    names_before = {str(other), str(third)}

    superuser_admin.post(f"/admin/threads/thread/{thread.pk}/delete/", {"post": "yes"})
    response = superuser_admin.post(
        "/admin/threads/thread/",
        {"action": "delete_selected", "_selected_action": [other.pk, third.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not Thread.objects.exists()
    names = [entry.object_repr for entry in LogEntry.objects.order_by("id")]
    assert names[0] == "alice & bob"
    assert set(names[1:]) == names_before
    assert len(names) == 3
    assert set(LogEntry.objects.values_list("user__username", flat=True)) == {"root"}
