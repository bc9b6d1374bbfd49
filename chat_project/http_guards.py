"""Checks on a raw HTTP request that must run before Django builds its request object,
shared by the WSGI and ASGI entry points."""

import codecs
import re
from email.message import Message

from django.conf import settings

UNSUPPORTED_CHARSET = (
    b'{"detail":"Unsupported charset in the Content-Type header.","code":"unsupported_media_type"}'
)


def usable_charset(content_type: str, query_string: str) -> bool:
    """Whether Django can decode the request with the charset its Content-Type names.

    Django builds its request object before any middleware runs, and decodes the query
    string with that charset while doing so; a codec that is not a text encoding ("zlib",
    "base64", "rot13"...) makes that construction fail, which would surface as a plain-text
    500 from the server rather than a JSON error from the API.
    """
    header = Message()
    header["content-type"] = content_type
    charset = header.get_param("charset")
    if not charset:
        return True
    try:
        codecs.lookup(charset)
    except LookupError:
        return True  # Django ignores charsets it does not know
    try:
        "".encode(charset)
        # Django decodes percent-decoded bytes with errors="replace", which some text
        # codecs ("idna") do not support.
        b"\xff".decode(charset, errors="replace")
    except (LookupError, UnicodeError, ValueError):
        return False
    try:
        query_string.encode("iso-8859-1").decode(charset)
    except UnicodeDecodeError:
        return True  # Django falls back to ISO-8859-1 for undecodable query strings
    except (LookupError, UnicodeError, ValueError):
        return False
    return True


# The one route that takes bodies larger than DATA_UPLOAD_MAX_MEMORY_SIZE: a file uploaded
# into a thread (`POST /api/threads/<id>/attachments`, with or without the slash).
UPLOAD_PATH = re.compile(r"/api/threads/[0-9]{1,18}/attachments/?")


def is_upload(path: str) -> bool:
    return UPLOAD_PATH.fullmatch(path) is not None


def body_limit(path: str) -> int | None:
    """The largest body, in bytes, a request to `path` may send (None: no limit). The
    upload route takes a file of ATTACHMENT_MAX_BYTES in a multipart envelope of up to
    DATA_UPLOAD_MAX_MEMORY_SIZE; the file itself is measured again as it is parsed
    (`chat_project.uploads`)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and is_upload(path):
        return limit + settings.ATTACHMENT_MAX_BYTES
    return limit


def body_over_limit(length: int, path: str = "") -> bool:
    """Whether a request body of `length` bytes to `path` is over its limit (`body_limit`):
    the one statement of the body limit, applied to the declared Content-Length by
    RequestBodyLimitMiddleware and, as the body streams in, by the ASGI entry. Answered
    with `chat_project.errors.request_too_large`."""
    limit = body_limit(path)
    return limit is not None and length > limit
