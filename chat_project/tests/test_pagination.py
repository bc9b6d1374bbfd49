"""chat_project.pagination builds the same `next` and `previous` links as DRF's own
LimitOffsetPagination, in one pass over the query instead of two."""

import random

import pytest
from rest_framework import pagination
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from chat_project.pagination import LimitOffsetPagination


class DRFPagination(pagination.LimitOffsetPagination):
    max_limit = LimitOffsetPagination.max_limit


PIECES = ["limit", "offset", "search", "a", "", "é", "%C3%A9", "%FF", "+", "%2B", "%26", "="]
PIECES += ["%3D", "x y", "%20", "[]", "1", "-1", "200", "abc", "lïmit", "&", "&&", ";"]


def queries(count: int):
    """Handwritten query strings, then random ones made of awkward pieces."""
    yield from ["", "limit=5", "offset=7", "limit=5&offset=7", "offset=3&limit=2&search=hi"]
    yield from ["limit=&offset=", "flag", "limit=5&limit=9", "b=2&a=1&b=1", "search=a+b%26c"]
    rng = random.Random(2026)  # noqa: S311 (test data, not secrets)
    for _ in range(count):
        pairs = []
        for _ in range(rng.randint(1, 5)):
            key = "".join(rng.choices(PIECES, k=rng.randint(1, 2)))
            value = "".join(rng.choices(PIECES, k=rng.randint(0, 3)))
            pairs.append(key if rng.random() < 0.1 else f"{key}={value}")
        yield "&".join(pairs)


def links(paginator_class, query: str, count: int) -> tuple:
    request = Request(
        APIRequestFactory().get(
            "/api/threads/1/messages/", QUERY_STRING=query, SERVER_NAME="127.0.0.1"
        )
    )
    paginator = paginator_class()
    paginator.request = request
    paginator.limit = paginator.get_limit(request)
    paginator.offset = paginator.get_offset(request)
    paginator.count = count
    return paginator.get_next_link(), paginator.get_previous_link()


@pytest.mark.parametrize("count", [0, 1, 7, 20, 250])
def test_the_links_are_drfs(count, settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    for query in queries(300):
        assert links(LimitOffsetPagination, query, count) == links(DRFPagination, query, count), (
            query
        )
