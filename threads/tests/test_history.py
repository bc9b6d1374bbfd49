"""Long histories: keyset paging by message id (`before`, `after`, `around`) and search."""

import pytest

from threads.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def history(alice, bob, thread):
    """Ten messages, alternating senders, m0 oldest."""
    return [
        MessageFactory(thread=thread, sender=(alice, bob)[i % 2], text=f"m{i}") for i in range(10)
    ]


def page(client, thread, **params):
    response = client.get(f"/api/threads/{thread.pk}/messages/", params)
    assert response.status_code == 200, response.data
    return response.data


def texts(data):
    return [m["text"] for m in data["results"]]


def test_newest_page_without_cursor_uses_offset_paging(alice_client, thread, history):
    data = page(alice_client, thread, limit=3)

    assert texts(data) == ["m9", "m8", "m7"]
    assert data["count"] == 10


def test_before_walks_back_through_history(alice_client, thread, history):
    data = page(alice_client, thread, before=history[7].pk, limit=3)

    assert texts(data) == ["m6", "m5", "m4"]
    assert data["has_more_before"] is True
    assert data["has_more_after"] is True
    assert "count" not in data


def test_before_reaches_the_start(alice_client, thread, history):
    data = page(alice_client, thread, before=history[2].pk, limit=5)

    assert texts(data) == ["m1", "m0"]
    assert data["has_more_before"] is False
    assert data["has_more_after"] is True


def test_after_catches_up_oldest_first_and_without_gaps(alice_client, thread, history):
    first = page(alice_client, thread, after=history[2].pk, limit=3)
    newest_seen = max(m["id"] for m in first["results"])
    second = page(alice_client, thread, after=newest_seen, limit=3)
    third = page(alice_client, thread, after=max(m["id"] for m in second["results"]), limit=3)

    assert texts(first) == ["m5", "m4", "m3"]
    assert first["has_more_before"] is True
    assert first["has_more_after"] is True
    assert texts(second) == ["m8", "m7", "m6"]
    assert texts(third) == ["m9"]
    assert third["has_more_after"] is False


def test_after_the_newest_message_is_empty(alice_client, thread, history):
    data = page(alice_client, thread, after=history[-1].pk)

    assert data["results"] == []
    assert data["has_more_after"] is False
    assert data["has_more_before"] is True


def test_around_first_unread_opens_where_the_reader_left_off(alice_client, bob, thread, history):
    alice_client.patch(f"/api/threads/{thread.pk}/mark_read", {"up_to": history[4].pk})
    first_unread = history[5]  # m5, from bob (odd indexes are bob's)

    data = page(alice_client, thread, around="first_unread", limit=4)

    assert texts(data) == ["m6", "m5", "m4", "m3"]
    assert first_unread.pk in [m["id"] for m in data["results"]]
    assert data["has_more_before"] is True
    assert data["has_more_after"] is True


def test_around_first_unread_with_nothing_unread_is_the_newest_page(alice_client, thread, history):
    alice_client.patch(f"/api/threads/{thread.pk}/mark_read")

    data = page(alice_client, thread, around="first_unread", limit=3)

    assert texts(data) == ["m9", "m8", "m7"]
    assert data["has_more_after"] is False
    assert data["has_more_before"] is True


def test_around_a_message_id(alice_client, thread, history):
    data = page(alice_client, thread, around=history[0].pk, limit=4)

    assert texts(data) == ["m3", "m2", "m1", "m0"]
    assert data["has_more_before"] is False
    assert data["has_more_after"] is True


def test_around_the_newest_message_fills_the_page_with_older_ones(alice_client, thread, history):
    data = page(alice_client, thread, around=history[-1].pk, limit=4)

    assert texts(data) == ["m9", "m8", "m7", "m6"]
    assert data["has_more_after"] is False
    assert data["has_more_before"] is True


@pytest.mark.parametrize(
    "params",
    [
        {"before": "x"},
        {"before": 0},
        {"after": -1},
        {"around": "last_read"},
        {"around": "0"},
        {"before": 5, "after": 1},
        {"after": 1, "around": "first_unread"},
        {"before": 2**64},
        {"search": "x" * 201},
    ],
)
def test_bad_cursor_is_400(alice_client, thread, params):
    response = alice_client.get(f"/api/threads/{thread.pk}/messages/", params)

    assert response.status_code == 400


def test_keyset_limit_is_capped(alice_client, alice, thread):
    MessageFactory.create_batch(105, thread=thread, sender=alice)

    data = page(alice_client, thread, before=10**9, limit=1000)

    assert len(data["results"]) == 100
    assert data["has_more_before"] is True


@pytest.mark.parametrize("count", [10, 300])
def test_deep_pages_cost_the_same_queries(
    alice_client, alice, thread, django_assert_max_num_queries, count
):
    messages = MessageFactory.create_batch(count, thread=thread, sender=alice)

    for params in (
        {"before": messages[5].pk},
        {"after": messages[5].pk},
        {"around": "first_unread"},
    ):
        with django_assert_max_num_queries(5):
            page(alice_client, thread, limit=50, **params)


def test_search_in_a_thread(alice_client, alice, bob, thread):
    MessageFactory(thread=thread, sender=alice, text="Lunch tomorrow?")
    MessageFactory(thread=thread, sender=bob, text="Sure, lunch at noon")
    MessageFactory(thread=thread, sender=bob, text="see you")

    data = page(alice_client, thread, search="LUNCH")

    assert texts(data) == ["Sure, lunch at noon", "Lunch tomorrow?"]


def test_search_across_all_my_threads(alice_client, alice, bob, mallory, thread):
    MessageFactory(thread=thread, sender=bob, text="the plan is on")
    from threads.tests.factories import ThreadFactory

    other = ThreadFactory(participants=[alice, mallory])
    MessageFactory(thread=other, sender=mallory, text="what plan?")
    strangers = ThreadFactory(participants=[bob, mallory])
    MessageFactory(thread=strangers, sender=bob, text="secret plan")

    response = alice_client.get("/api/messages/", {"search": "plan"})

    assert response.status_code == 200
    assert texts(response.data) == ["what plan?", "the plan is on"]
    assert response.data["count"] == 2


def test_all_my_messages_page_by_page_newest_first(alice_client, alice, bob, mallory):
    """Quiet threads, one busy one, an empty one and strangers talking in between: every
    page holds the next newest of alice's messages, each exactly once."""
    from threads.tests.factories import ThreadFactory
    from users.tests.factories import UserFactory

    friends = [UserFactory() for _ in range(5)]
    quiet = [ThreadFactory(participants=[alice, friend]) for friend in friends]
    busy = ThreadFactory(participants=[alice, bob])
    ThreadFactory(participants=[alice, mallory])  # no message yet
    strangers = ThreadFactory(participants=[bob, mallory])
    mine = []
    for index, thread in enumerate(quiet):
        mine.append(MessageFactory(thread=thread, sender=alice, text=f"quiet {index}"))
        MessageFactory(thread=strangers, sender=bob, text="not for alice")
    for index in range(12):
        mine.append(MessageFactory(thread=busy, sender=(alice, bob)[index % 2], text=f"b{index}"))
    mine.append(MessageFactory(thread=quiet[2], sender=friends[2], text="quiet again"))
    MessageFactory(thread=strangers, sender=mallory, text="not for alice either")
    mine.append(MessageFactory(thread=busy, sender=bob, text="newest"))
    alice_client.delete(f"/api/threads/{busy.pk}/messages/{mine[7].pk}/")  # stays, as deleted

    seen, offset = [], 0
    while True:
        data = alice_client.get("/api/messages/", {"limit": 3, "offset": offset}).data
        assert data["count"] == len(mine)
        seen += [message["id"] for message in data["results"]]
        if data["next"] is None:
            break
        offset += 3

    assert seen == sorted((message.pk for message in mine), reverse=True)
    assert [m["text"] for m in alice_client.get("/api/messages/").data["results"][:2]] == [
        "newest",
        "quiet again",
    ]


@pytest.mark.parametrize("newest_three", ["one in each thread", "all in one thread"])
def test_a_page_of_all_my_messages_holds_the_newest_wherever_they_lie(
    alice_client, alice, newest_three
):
    """A page of n takes the newest n of up to n threads: here exactly n threads, or n
    messages of one thread."""
    from threads.tests.factories import ThreadFactory
    from users.tests.factories import UserFactory

    first, *others = [ThreadFactory(participants=[alice, UserFactory()]) for _ in range(3)]
    older = [MessageFactory(thread=first, sender=alice) for _ in range(3)]
    if newest_three == "one in each thread":
        newest = [MessageFactory(thread=thread, sender=alice) for thread in others + [first]]
    else:
        newest = [MessageFactory(thread=others[0], sender=alice) for _ in range(3)]

    pages = [
        [
            row["id"]
            for row in alice_client.get("/api/messages/", {"limit": 3, "offset": at}).data[
                "results"
            ]
        ]
        for at in (0, 3)
    ]

    assert pages == [[m.pk for m in reversed(newest)], [m.pk for m in reversed(older)]]


@pytest.mark.parametrize("count", [1, 50])
def test_all_my_messages_queries_do_not_grow(
    alice_client, alice, bob, mallory, thread, django_assert_max_num_queries, count
):
    from threads.tests.factories import ThreadFactory

    other = ThreadFactory(participants=[alice, mallory])
    for index in range(count):
        MessageFactory(thread=(thread, other)[index % 2], sender=alice)

    with django_assert_max_num_queries(4):  # the page, its count, its reactions, the user
        response = alice_client.get("/api/messages/", {"limit": 100})

    assert response.data["count"] == count
    assert len(response.data["results"]) == count


@pytest.mark.parametrize("search", [None, "hello"])
def test_the_page_just_past_the_end_of_all_my_messages_reads_no_message(
    alice_client, alice, thread, django_assert_num_queries, search
):
    MessageFactory.create_batch(3, thread=thread, sender=alice, text="hello")
    query = {"offset": 3, **({"search": search} if search else {})}

    with django_assert_num_queries(2):  # the user, the count
        response = alice_client.get("/api/messages/", query)

    assert response.data["count"] == 3
    assert response.data["results"] == []
    assert response.data["next"] is None
    assert response.data["previous"] is not None


def test_search_skips_deleted_messages(alice_client, alice, thread):
    gone = MessageFactory(thread=thread, sender=alice, text="oops password123")
    alice_client.delete(f"/api/threads/{thread.pk}/messages/{gone.pk}/")

    assert alice_client.get("/api/messages/", {"search": "password"}).data["count"] == 0
    assert page(alice_client, thread, search="password")["results"] == []


def test_global_search_needs_a_token(anon_client):
    assert anon_client.get("/api/messages/", {"search": "x"}).status_code == 401


@pytest.mark.parametrize("count", [1, 50])
def test_global_search_queries_do_not_grow(
    alice_client, alice, thread, django_assert_max_num_queries, count
):
    MessageFactory.create_batch(count, thread=thread, sender=alice, text="needle")

    with django_assert_max_num_queries(4):  # the page, its count, its reactions, the user
        response = alice_client.get("/api/messages/", {"search": "needle", "limit": 100})

    assert response.data["count"] == count


@pytest.mark.parametrize("count", [10, 300])
def test_opening_at_the_first_unread_message_deep_in_a_history(
    alice_client, alice, bob, thread, django_assert_max_num_queries, count
):
    MessageFactory.create_batch(count, thread=thread, sender=bob)
    alice_client.patch(f"/api/threads/{thread.pk}/mark_read")
    first_unread = MessageFactory(thread=thread, sender=bob, text="you left off here")
    MessageFactory.create_batch(count, thread=thread, sender=bob)

    with django_assert_max_num_queries(6):  # the user, the thread, 3 for the page, reactions
        data = page(alice_client, thread, around="first_unread", limit=10)

    assert first_unread.pk in [m["id"] for m in data["results"]]
    assert data["has_more_before"] is True
    assert data["has_more_after"] is True


@pytest.mark.parametrize(
    ("search", "expected"),
    [("%", ["100% sure"]), ("_", ["snake_case"]), ("\\", ["back\\slash"]), ("'", ["it's"])],
)
def test_search_treats_wildcards_and_quotes_as_plain_text(
    alice_client, alice, thread, search, expected
):
    for text in ("100% sure", "snake_case", "back\\slash", "it's", "plain"):
        MessageFactory(thread=thread, sender=alice, text=text)

    in_thread = page(alice_client, thread, search=search)
    everywhere = alice_client.get("/api/messages/", {"search": search}).data

    assert texts(in_thread) == expected
    assert texts(everywhere) == expected


def test_search_with_a_cursor_pages_through_matches_only(alice_client, alice, thread):
    hits = [MessageFactory(thread=thread, sender=alice, text=f"hit {i}") for i in range(5)]
    MessageFactory.create_batch(5, thread=thread, sender=alice, text="miss")

    data = page(alice_client, thread, search="hit", before=hits[3].pk, limit=2)

    assert texts(data) == ["hit 2", "hit 1"]
    assert data["has_more_before"] is True
    assert data["has_more_after"] is True


def test_the_largest_cursor_is_an_empty_page_not_an_error(alice_client, thread, history):
    for cursor in ("after", "before", "around"):
        response = alice_client.get(
            f"/api/threads/{thread.pk}/messages/", {cursor: str(2**63 - 1)[:18]}
        )
        assert response.status_code == 200
    response = alice_client.get(f"/api/threads/{thread.pk}/messages/", {"after": 2**63 - 1})
    assert response.status_code == 200
    assert response.data["results"] == []
    assert response.data["has_more_before"] is True
