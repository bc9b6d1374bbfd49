"""chat_project.renderers writes DRF's JSONRenderer's bytes, whatever the data."""

import datetime
import decimal
import enum
import uuid

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import renderers
from rest_framework.exceptions import ErrorDetail

from chat_project.renderers import JSONRenderer, json_bytes
from chat_project.tests.renderers import CheckedJSONRenderer


class Number(enum.IntEnum):
    ONE = 1


class Word(enum.StrEnum):
    A = "a"


TEXTS = [
    "",
    "plain",
    "".join(map(chr, range(0x20))) + "\x7f",
    "\"\\/<>&'",
    "\u2028 \u2029 \u2028\u2029",
    "é ß 漢字 😀 \U0010ffff \ufeff \ufffd",
    "1e-5 re-read e-mail 2e-7x",
]
NUMBERS = [0, -1, 2**63 - 1, -(2**63), 2**64, -(2**80), True, False, Number.ONE]
FLOATS = [0.0, -0.0, 0.5, 1.0, 1e16, 1e22, 1e-4, 1e-5, 1.5e-7, 2.5e-10, 123456789.123, 3e300]
DECIMALS = [decimal.Decimal("1.10"), decimal.Decimal("0.00001"), decimal.Decimal("1e40")]
OTHERS = [
    None,
    datetime.datetime(2026, 12, 1, 13, 0, 0, 123456, tzinfo=datetime.UTC),
    datetime.date(2026, 12, 1),
    datetime.timedelta(seconds=90),
    uuid.UUID(int=1),
    gettext_lazy("Not found."),
    ErrorDetail("This field is required.", code="required"),
    Word.A,
    b"bytes",
    {1, 2},
    (1, "tuple"),
]
CORPUS = [
    *TEXTS,
    *NUMBERS,
    *FLOATS,
    *DECIMALS,
    *OTHERS,
    {"results": [{"id": 1, "text": text, "n": None} for text in TEXTS]},
    {7: "int key", 2.5: "float key", True: "bool key", None: "none key", "é": "é"},
    [[[]], {}, {"a": {"b": [None, True, 0, ""]}}],
    {"when": OTHERS[1], "rows": [{"id": n} for n in range(60)]},
]


@pytest.mark.parametrize("data", CORPUS, ids=lambda data: type(data).__name__)
def test_the_bytes_are_drfs(data):
    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data)


@pytest.mark.parametrize("data", [float("nan"), float("inf"), {"a": [float("-inf")]}])
def test_what_drf_refuses_is_refused(data):
    with pytest.raises(ValueError, match="Out of range float values"):
        JSONRenderer().render(data)


def test_a_lone_surrogate_fails_as_with_drf():
    with pytest.raises(UnicodeEncodeError):
        renderers.JSONRenderer().render({"text": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        JSONRenderer().render({"text": "\ud800"})


def test_the_fast_path_is_taken_for_plain_data():
    page = {"results": [{"id": 1, "text": text, "n": None} for text in TEXTS[:-1]]}
    assert json_bytes(page) == renderers.JSONRenderer().render(page)
    for data in [OTHERS[1], OTHERS[4], 1e-5, decimal.Decimal("0.00001"), b"x", {1}]:
        assert json_bytes(data) is None


def test_an_indented_rendering_is_drfs():
    data = {"a": [1, {"b": "é"}]}
    media = "application/json; indent=4"

    assert JSONRenderer().render(data, media) == renderers.JSONRenderer().render(data, media)
    assert b"\n    " in JSONRenderer().render(data, media)


def test_the_test_suite_renders_through_the_checked_renderer(alice_client, thread):
    before = CheckedJSONRenderer.rendered

    alice_client.get("/api/threads/")
    alice_client.get(f"/api/threads/{thread.pk}/messages/?limit=zero")

    assert CheckedJSONRenderer.rendered == before + 2
