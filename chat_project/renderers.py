"""The API's JSON renderer: DRF's bytes, written faster.

DRF's JSONRenderer encodes with the standard library's `json` (compact separators, UTF-8
left as it is, U+2028 and U+2029 escaped afterwards), through DRF's encoder for what
`json` cannot write itself (dates, UUIDs, lazy text, sets...). ujson writes the same
bytes for what the API's responses are made of (dicts, lists, strings, integers,
booleans, None) in a third to a half of the time (docs/performance.md).
`json_bytes` uses it only where it writes DRF's bytes, and hands everything else to
DRF's own path:

- anything ujson would pass to a `default` function (datetimes, UUIDs, lazy text,
  bytes, sets, generators...): DRF's encoder has its own forms for those;
- a float (or a Decimal, which DRF writes as a float) with a one-digit negative
  exponent, which ujson writes `1e-5` where Python writes `1e-05`: a body with `e-`
  between two digits goes DRF's way (a message saying "1e-5" only costs the slower path);
- NaN and the infinities, which DRF refuses (STRICT_JSON): DRF's path raises its error;
- an indented rendering (`Accept: application/json; indent=4`) and settings other than
  the project's (compact, UTF-8, strict).

What ujson would still write otherwise, no response of this API holds: dict keys that
are not strings, numbers, booleans or None (DRF refuses them), and dict subclasses
iterating in another order than they were filled (an OrderedDict after move_to_end).
The test settings render every response of the test suite both ways and compare
(chat_project/tests/renderers.py), and chat_project/tests/test_renderers.py compares a
corpus of awkward values.
"""

import re

import ujson
from rest_framework import renderers


class _NotNative(Exception):
    """`data` holds a value ujson does not write itself."""


def _not_native(value):
    raise _NotNative


# A float's exponent as ujson writes it and Python does not: e-5 (Python: e-05).
_SHORT_EXPONENT = re.compile(rb"[0-9]e-[0-9](?![0-9])")


def json_bytes(data) -> bytes | None:
    """DRF's compact UTF-8 JSON for `data`, written by ujson, or None where ujson would
    not write DRF's bytes (the caller then takes DRF's own path)."""
    try:
        text = ujson.dumps(
            data,
            ensure_ascii=False,
            escape_forward_slashes=False,
            allow_nan=False,
            reject_bytes=True,
            default=_not_native,
        )
    except (_NotNative, TypeError, ValueError, OverflowError, UnicodeError):
        return None
    # As DRF: the two line separators JSON allows in strings and JavaScript does not.
    body = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()
    if b"e-" in body and _SHORT_EXPONENT.search(body):
        return None
    return body


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSONRenderer, writing through `json_bytes` where that gives its bytes."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        if (
            data is not None
            and self.compact
            and not self.ensure_ascii
            and self.strict
            and self.get_indent(accepted_media_type, renderer_context or {}) is None
        ):
            body = json_bytes(data)
            if body is not None:
                return body
        return super().render(data, accepted_media_type, renderer_context)
