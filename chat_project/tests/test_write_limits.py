"""The per-user write limit: every change a user makes spends one budget; reads never do;
posting messages keeps its own."""

import pytest
import yaml

from chat_project.tests.test_limits import rates
from chat_project.tests.test_schema import ROOT
from threads.models import Message
from threads.tests.factories import MessageFactory, ThreadFactory
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BLOCKS = "/api/user/blocks/"


def assert_throttled(response) -> None:
    assert response.status_code == 429, response.content
    assert int(response["Retry-After"]) > 0
    assert response.json() == {"detail": response.json()["detail"], "code": "throttled"}


def test_the_fourth_edit_in_a_row_is_throttled(alice_client, alice, thread):
    message = MessageFactory(thread=thread, sender=alice, text="v0")
    url = f"/api/threads/{thread.pk}/messages/{message.pk}/"

    with rates(write="3/minute"):
        statuses = [alice_client.patch(url, {"text": f"v{n}"}).status_code for n in (1, 2, 3)]
        fourth = alice_client.patch(url, {"text": "v4"})

    assert statuses == [200, 200, 200]
    assert_throttled(fourth)
    message.refresh_from_db()
    assert message.text == "v3"  # refused before it changed anything


def test_the_fourth_mark_read_is_throttled(bob_client, thread):
    url = f"/api/threads/{thread.pk}/mark_read"

    with rates(write="3/minute"):
        statuses = [bob_client.patch(url, {}).status_code for _ in range(3)]
        fourth = bob_client.patch(url, {})

    assert statuses == [200, 200, 200]
    assert_throttled(fourth)


def test_the_fourth_thread_create_is_throttled(alice_client):
    others = UserFactory.create_batch(4)

    with rates(write="3/minute"):
        statuses = [
            alice_client.post("/api/threads/", {"participants": [other.pk]}).status_code
            for other in others[:3]
        ]
        fourth = alice_client.post("/api/threads/", {"participants": [others[3].pk]})

    assert statuses == [201, 201, 201]
    assert_throttled(fourth)


def test_blocks_and_unblocks_are_throttled(alice_client, bob, mallory):
    with rates(write="3/minute"):
        statuses = [
            alice_client.post(BLOCKS, {"user": bob.pk}).status_code,
            alice_client.delete(f"{BLOCKS}{bob.pk}/").status_code,
            alice_client.post(BLOCKS, {"user": mallory.pk}).status_code,
        ]
        fourth = alice_client.delete(f"{BLOCKS}{mallory.pk}/")

    assert statuses == [201, 204, 201]
    assert_throttled(fourth)


def test_every_kind_of_write_spends_the_same_budget(alice_client, alice, bob, thread):
    message = MessageFactory(thread=thread, sender=alice)
    other_thread = ThreadFactory(participants=[alice, UserFactory()])

    with rates(write="4/minute"):
        statuses = [
            alice_client.patch(
                f"/api/threads/{thread.pk}/messages/{message.pk}/", {"text": "x"}
            ).status_code,
            alice_client.delete(f"/api/threads/{thread.pk}/messages/{message.pk}/").status_code,
            alice_client.patch(f"/api/threads/{thread.pk}/mark_read", {}).status_code,
            alice_client.delete(f"/api/threads/{other_thread.pk}/").status_code,
        ]
        fifth = alice_client.post(BLOCKS, {"user": bob.pk})

    assert statuses == [200, 204, 200, 204]
    assert_throttled(fifth)


def test_refused_and_failed_writes_count_too(alice_client):
    # A script probing ids or sending garbage spends its budget like any other writer.
    with rates(write="2/minute"):
        statuses = [
            alice_client.post("/api/threads/", {"participants": "x"}).status_code,
            alice_client.delete("/api/threads/987/").status_code,
        ]
        third = alice_client.post("/api/threads/", {"participants": "x"})

    assert statuses == [400, 404]
    assert_throttled(third)


def test_reads_are_never_counted_nor_refused(alice_client, bob, thread):
    reads = [
        "/api/threads/",
        f"/api/threads/{thread.pk}/",
        f"/api/threads/{thread.pk}/messages/",
        f"/api/threads/{thread.pk}/unread_count",
        "/api/threads/unread_count/",
        "/api/messages/",
        "/api/users/",
        "/api/user/me/",
        BLOCKS,
    ]

    with rates(write="1/minute"):
        before = [alice_client.get(path).status_code for path in reads * 2]
        write = alice_client.post(BLOCKS, {"user": bob.pk})
        after = [alice_client.get(path).status_code for path in reads]

    assert set(before) == {200}
    assert write.status_code == 201  # the reads above spent nothing
    assert set(after) == {200}


def test_one_users_writes_do_not_spend_anothers_budget(alice_client, bob_client, thread):
    url = f"/api/threads/{thread.pk}/mark_read"

    with rates(write="2/minute"):
        for _ in range(2):
            alice_client.patch(url, {})
        alice_third = alice_client.patch(url, {})
        bob_statuses = [bob_client.patch(url, {}).status_code for _ in range(2)]

    assert_throttled(alice_third)
    assert bob_statuses == [200, 200]


def test_posting_messages_keeps_its_own_limit(alice_client, thread):
    # Posts are bounded by message_post alone: a busy conversation must not leave its
    # writer unable to mark the other side's replies read, and the two limits together
    # still bound what a script can do.
    messages = f"/api/threads/{thread.pk}/messages"
    mark_read = f"/api/threads/{thread.pk}/mark_read"

    with rates(write="2/minute", message_post="3/minute"):
        posts = [alice_client.post(messages, {"text": "hi"}).status_code for _ in range(3)]
        writes = [alice_client.patch(mark_read, {}).status_code for _ in range(2)]
        fourth_post = alice_client.post(messages, {"text": "hi"})
        third_write = alice_client.patch(mark_read, {})

    assert posts == [201, 201, 201]
    assert writes == [200, 200]  # the posts spent none of the write budget
    assert_throttled(fourth_post)
    assert_throttled(third_write)
    assert Message.objects.count() == 3


def test_a_spent_write_budget_does_not_stop_posting(alice_client, thread):
    with rates(write="1/minute"):
        alice_client.patch(f"/api/threads/{thread.pk}/mark_read", {})
        post = alice_client.post(f"/api/threads/{thread.pk}/messages", {"text": "hi"})

    assert post.status_code == 201


def test_anonymous_writes_are_401_not_429(anon_client):
    with rates(write="1/minute"):
        statuses = [anon_client.post("/api/threads/", {}).status_code for _ in range(3)]

    assert statuses == [401, 401, 401]


def test_the_schema_documents_429_on_every_write_and_no_read():
    # docs/openapi.yaml is kept equal to the generated schema by test_schema.py.
    schema = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())
    documents_429 = {
        (method.upper(), path): "429" in operation["responses"]
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }

    writes = {key: value for key, value in documents_429.items() if key[0] != "GET"}
    reads = {key: value for key, value in documents_429.items() if key[0] == "GET"}
    assert all(writes.values()), writes
    assert not any(reads.values()), reads
