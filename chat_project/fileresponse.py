"""Answering a stored file over HTTP: validators and conditional requests (304), single
byte ranges (206, 416), and the headers that keep a browser from treating it as a page.

Django's FileResponse sends whole files only, and the one package that adds ranges to it
(django-ranged-response) has not been kept up since 2017; this module is the small part
of RFC 9110 the attachments need. Conditional requests are Django's own
(`get_conditional_response`); ranges follow RFC 9110 section 14: one `bytes=` range
(first-last, first-, or -suffix), 416 with `Content-Range: bytes */size` when it starts
past the end, and the whole file (200) for anything else, including several ranges and
a syntax error (which a server may ignore), or an `If-Range` validator that no longer
matches.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date, parse_http_date_safe
from rest_framework.negotiation import BaseContentNegotiation

CHUNK_BYTES = 64 * 1024
_RANGE = re.compile(r"bytes=[ \t]*([0-9]{0,18})[ \t]*-[ \t]*([0-9]{0,18})[ \t]*", re.I)


@dataclass(frozen=True)
class StoredFile:
    """What is needed to answer a file: how to open it, and what to say about it."""

    open: Callable[[], BinaryIO]
    size: int
    content_type: str
    filename: str
    inline: bool  # shown in the browser (safe images) rather than downloaded
    etag: str  # a strong validator, quoted: '"..."'
    last_modified: datetime
    max_age: int  # seconds a browser may keep it (privately)


def file_response(request: HttpRequest, stored: StoredFile) -> HttpResponse:
    """The answer to a GET or HEAD of `stored`: 200, 206, 304, 412 or 416."""
    modified = int(stored.last_modified.timestamp())
    answer = get_conditional_response(request, etag=stored.etag, last_modified=modified)
    if answer is None:
        answer = _content(request, stored)
    return _with_file_headers(answer, stored)


def _content(request: HttpRequest, stored: StoredFile) -> HttpResponse:
    first, last = 0, stored.size - 1
    status = 200
    wanted = _wanted_range(request, stored)
    if wanted == "unsatisfiable":
        answer = JsonResponse(
            {
                "detail": f"The range is outside the file ({stored.size} bytes).",
                "code": "range_not_satisfiable",
            },
            status=416,
            json_dumps_params={"separators": (",", ":")},
        )
        answer["Content-Range"] = f"bytes */{stored.size}"
        return answer
    if wanted is not None:
        first, last = wanted
        status = 206
    length = last - first + 1
    if request.method == "HEAD":
        answer = HttpResponse(status=status)
    else:
        # Opened here, so a missing file is an exception before the answer starts.
        answer = StreamingHttpResponse(_read(stored.open(), first, length), status=status)
    answer["Content-Length"] = str(length)
    if status == 206:
        answer["Content-Range"] = f"bytes {first}-{last}/{stored.size}"
    answer["Content-Type"] = stored.content_type
    answer["Content-Disposition"] = content_disposition(stored.filename, inline=stored.inline)
    return answer


def _wanted_range(request: HttpRequest, stored: StoredFile) -> tuple[int, int] | str | None:
    """The one byte range to send (first, last), "unsatisfiable", or None for the whole."""
    header = request.META.get("HTTP_RANGE")
    if not header or stored.size == 0:
        return None
    if_range = request.META.get("HTTP_IF_RANGE")
    if if_range is not None and not _validator_matches(if_range.strip(), stored):
        return None  # the client's copy is another version: send it all
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None  # several ranges, another unit or bad syntax: ignored
    start, end = match.groups()
    if not start:
        if not end:
            return None
        suffix = int(end)
        if suffix == 0:
            return "unsatisfiable"
        return max(stored.size - suffix, 0), stored.size - 1
    first = int(start)
    if end and int(end) < first:
        return None  # invalid: ignored (RFC 9110 14.1.1)
    if first >= stored.size:
        return "unsatisfiable"
    last = min(int(end), stored.size - 1) if end else stored.size - 1
    return first, last


def _validator_matches(validator: str, stored: StoredFile) -> bool:
    """If-Range: a strong ETag equal to ours, or exactly our Last-Modified date."""
    if validator.startswith(('"', "W/")):
        return validator == stored.etag
    when = parse_http_date_safe(validator)
    return when is not None and when == int(stored.last_modified.timestamp())


def _read(handle: BinaryIO, first: int, length: int) -> Iterator[bytes]:
    """The bytes first .. first + length - 1, in chunks; the file is closed when the
    response is (the generator's `close`)."""
    with handle:
        handle.seek(first)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def _with_file_headers(answer: HttpResponse, stored: StoredFile) -> HttpResponse:
    answer["ETag"] = stored.etag
    answer["Last-Modified"] = http_date(stored.last_modified.timestamp())
    # Private: only the participants may have it, so no shared cache keeps a copy.
    answer["Cache-Control"] = f"private, max-age={stored.max_age}"
    answer["Accept-Ranges"] = "bytes"
    answer["X-Content-Type-Options"] = "nosniff"
    # Opened on its own, a file runs nothing and loads nothing (an HTML or SVG file that
    # got past the type checks included).
    answer["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return answer


def content_disposition(filename: str, *, inline: bool) -> str:
    """`inline` or `attachment` with the file's name (RFC 6266): an ASCII `filename` for
    every client, and `filename*` in UTF-8 (RFC 5987/8187) when the name is not ASCII."""
    kind = "inline" if inline else "attachment"
    fallback = "".join(
        char if " " <= char <= "~" and char not in '"\\' else "_" for char in filename
    )
    header = f'{kind}; filename="{fallback}"'
    if fallback != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header


class AnyAccept(BaseContentNegotiation):
    """Content negotiation for views that answer files: whatever the client accepts
    (`Accept: image/*` from a browser), errors are answered by the first renderer (JSON)
    rather than refused with 406 before the view runs."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
