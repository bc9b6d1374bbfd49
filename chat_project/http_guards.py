"""Checks on a raw HTTP request that must run before Django builds its request object,
shared by the WSGI and ASGI entry points."""

import codecs
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


def body_over_limit(length: int) -> bool:
    """Whether a request body of `length` bytes is over DATA_UPLOAD_MAX_MEMORY_SIZE: the one
    statement of the body limit, applied to the declared Content-Length by
    RequestBodyLimitMiddleware and, as the body streams in, by the ASGI entry. Answered
    with `chat_project.errors.request_too_large`."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return limit is not None and length > limit
