"""Attachment files: what an upload really is, what is kept of it, where it is kept, and
the links that hand it out.

- Inspection trusts the bytes, never the client's name or Content-Type: the type is
  detected from the file's signature (`filetype`, pure Python), text is recognised as
  UTF-8 without NULs, and anything else is `application/octet-stream`.
- Images (JPEG, PNG, GIF, WebP; BMP and TIFF become PNG) are decoded by Pillow, under a
  pixel limit (ATTACHMENT_MAX_IMAGE_PIXELS, Pillow's decompression-bomb check included),
  turned upright, and encoded again without their metadata (EXIF with its GPS position,
  XMP, comments): what is stored is the re-encoded image. The thumbnail is made then,
  once. A file that says it is an image and is not (its name, its Content-Type, or a
  signature whose image does not decode) is kept as `application/octet-stream`, to be
  downloaded, never shown.
- Files go through Django's default storage (STORAGES): under MEDIA_ROOT, or in an
  S3-compatible bucket. Names are random, never the client's.
- Links (`url`, `thumbnail_url`) are signed with the secret key and last a while
  (ATTACHMENT_URL_SECONDS), so a browser can load them without a bearer token.
"""

import hashlib
import io
import logging
import mimetypes
import secrets
import time
import unicodedata
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import filetype
from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.crypto import constant_time_compare
from PIL import Image, ImageOps, UnidentifiedImageError

from threads.errors import ImageTooLarge, ImageTooManyFrames

logger = logging.getLogger(__name__)

# Images shown in the browser (inline); Pillow's format name -> the type served.
IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
# Images Pillow reads that browsers may not show: kept as PNG.
CONVERTED_FORMATS = {"BMP", "TIFF"}
OCTET_STREAM = "application/octet-stream"
TEXT = "text/plain"
# Types a browser would run rather than show: served as plain bytes whatever was detected.
ACTIVE_TYPES = {
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "application/xml",
    "text/xml",
    "application/javascript",
    "text/javascript",
    "application/x-shockwave-flash",
}
# Frames an animation may have: each frame costs its decoding and re-encoding however
# few pixels it has, so a file of many tiny frames passes the pixel limit and still
# holds a core for long (docs/performance.md). 1,000 is 40 seconds at 25 frames a second.
MAX_IMAGE_FRAMES = 1000
THUMBNAIL_SIZE = (320, 320)
THUMBNAIL_TYPE = "image/webp"
NAME_MAX_LENGTH = 255
# How much of a file the type detection reads.
HEAD_BYTES = 8192


@dataclass
class Inspected:
    """An upload as it will be kept: its served type and, for images, the re-encoded
    bytes, their size in pixels and the thumbnail."""

    content_type: str
    data: bytes | None = None  # None: the upload's own bytes are kept as they are
    width: int | None = None
    height: int | None = None
    thumbnail: bytes | None = None


def clean_name(name: str) -> str:
    """The file name shown and sent back in Content-Disposition: the last part of what the
    client sent, without control characters, at most NAME_MAX_LENGTH characters (the
    extension kept), "file" if nothing is left."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if _shown(char)).strip()
    name = name.lstrip(".") or "file"
    if len(name) > NAME_MAX_LENGTH:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: NAME_MAX_LENGTH - len(extension) - 1] + "." + extension
        else:
            name = name[:NAME_MAX_LENGTH]
    return name


# Joiners shape emoji and some scripts; every other control or format character (NUL,
# newlines, the bidirectional overrides that make "photo\u202egnp.exe" read as
# "photoexe.png") is dropped.
_JOINERS = {"\u200c", "\u200d"}


def _shown(char: str) -> bool:
    return char in _JOINERS or unicodedata.category(char)[0] != "C"


def inspect(upload: File, *, name: str, claimed_type: str | None) -> Inspected:
    """What `upload` is, from its bytes, and what to keep of it. ImageTooLarge for an image
    over the pixel limit (a decompression bomb)."""
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    kind = filetype.guess(head)
    detected = kind.mime if kind is not None else None
    if detected is not None and detected.startswith("image/"):
        image = _image(upload)
        if image is not None:
            return image
        return Inspected(OCTET_STREAM)  # an image signature, but not an image
    if _claims_image(name, claimed_type):
        return Inspected(OCTET_STREAM)
    if detected is None:
        return Inspected(TEXT if _is_text(head) else OCTET_STREAM)
    return Inspected(OCTET_STREAM if detected in ACTIVE_TYPES else detected)


def _claims_image(name: str, claimed_type: str | None) -> bool:
    guessed, _ = mimetypes.guess_type(name)
    return any(kind and kind.startswith("image/") for kind in (guessed, claimed_type))


def _is_text(head: bytes) -> bool:
    """Whether the file starts as UTF-8 text (a character cut at the end of the sample is
    fine) without NUL bytes."""
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(head) - 3 and error.reason == "unexpected end of data"
    return True


# What Pillow raises for a file it cannot decode.
_UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, IndexError)


def _image(upload: File) -> Inspected | None:
    """The image re-encoded without metadata, with its thumbnail; None when the bytes are
    not an image Pillow can decode."""
    limit = settings.ATTACHMENT_MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        # Pillow warns past Image.MAX_IMAGE_PIXELS and raises past twice that: both refuse.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(upload) as image:
                width, height = image.size
                if width * height > limit:
                    raise ImageTooLarge
                if image.format not in IMAGE_TYPES and image.format not in CONVERTED_FORMATS:
                    return None
                frames = getattr(image, "n_frames", 1)
                if frames > MAX_IMAGE_FRAMES:
                    raise ImageTooManyFrames(limit=MAX_IMAGE_FRAMES)
                if width * height * frames > limit:
                    raise ImageTooLarge
                return _reencode(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageTooLarge from None
        except _UNREADABLE:
            return None


def _reencode(image: Image.Image) -> Inspected:
    """The image's pixels in a new file of its format (PNG for converted ones), upright,
    with its colour profile and transparency and nothing else of its metadata."""
    icc_profile = image.info.get("icc_profile")
    output = io.BytesIO()
    if getattr(image, "n_frames", 1) > 1 and image.format in ("GIF", "WEBP"):
        # An animation is written frame by frame from the decoded pixels; the metadata
        # Pillow would carry over from the frames is given as nothing.
        target = image.format
        first = image.copy()
        _save(image, output, target, save_all=True, comment=b"", exif=b"", xmp=b"")
    else:
        target = image.format if image.format in IMAGE_TYPES else "PNG"
        image.load()
        first = ImageOps.exif_transpose(image)
        first.info = {key: value for key, value in first.info.items() if key == "transparency"}
        extra = {}
        if target == "JPEG":
            extra = {"quality": 90, "optimize": True}
            if first.mode not in ("RGB", "L", "CMYK"):
                first = first.convert("RGB")
        elif target == "PNG" and first.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I"):
            first = first.convert("RGBA")
        _save(first, output, target, icc_profile=icc_profile, **extra)
    width, height = first.size
    return Inspected(
        content_type=IMAGE_TYPES[target],
        data=output.getvalue(),
        width=width,
        height=height,
        thumbnail=_thumbnail(first),
    )


def _save(image: Image.Image, output: io.BytesIO, image_format: str, **params) -> None:
    params = {key: value for key, value in params.items() if value is not None}
    image.save(output, format=image_format, **params)


def _thumbnail(image: Image.Image) -> bytes:
    """A WebP of at most THUMBNAIL_SIZE, from the upright image (an animation's first
    frame)."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    frame = image.convert("RGBA" if has_alpha else "RGB")
    frame.info = {}
    frame.thumbnail(THUMBNAIL_SIZE)
    output = io.BytesIO()
    frame.save(output, format="WEBP", quality=80)
    return output.getvalue()


# --- Storage ---------------------------------------------------------------------------


ROOT_FOLDER = "attachments"


def storage_name(suffix: str = "") -> str:
    """A new, unguessable name; the first two characters spread files over folders."""
    token = secrets.token_hex(16)
    return f"{ROOT_FOLDER}/{token[:2]}/{token}{suffix}"


@dataclass(frozen=True)
class Stored:
    file: str
    thumbnail: str
    size: int
    sha256: str


def store(upload: File, inspected: Inspected) -> Stored:
    """Write the file (and its thumbnail) to the storage; the caller records the names, or
    removes the files again (`remove`) if it cannot."""
    if inspected.data is not None:
        content = ContentFile(inspected.data)
        digest = hashlib.sha256(inspected.data).hexdigest()
        size = len(inspected.data)
    else:
        upload.seek(0)
        hasher = hashlib.sha256()
        size = 0
        for chunk in upload.chunks():
            hasher.update(chunk)
            size += len(chunk)
        upload.seek(0)
        content, digest = upload, hasher.hexdigest()
    content.content_type = served_type(inspected.content_type)  # the S3 object's type
    name = default_storage.save(storage_name(), content)
    thumbnail = ""
    if inspected.thumbnail is not None:
        try:
            thumb = ContentFile(inspected.thumbnail)
            thumb.content_type = THUMBNAIL_TYPE
            thumbnail = default_storage.save(storage_name("-thumb"), thumb)
        except BaseException:
            remove([name])
            raise
    return Stored(file=name, thumbnail=thumbnail, size=size, sha256=digest)


def remove(names: Iterable[str]) -> None:
    """Delete stored files now; a file that cannot be deleted is logged and left (the
    prune command's `--orphans` finds it later)."""
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except Exception:
            logger.warning("Could not delete the stored file %s", name, exc_info=True)


def stored_names_in_batches(batch: int = 500) -> Iterator[list[str]]:
    """Every file name under the storage's `attachments/` folder, a batch at a time."""
    names: list[str] = []
    for name in _walk(ROOT_FOLDER):
        names.append(name)
        if len(names) >= batch:
            yield names
            names = []
    if names:
        yield names


def _walk(folder: str) -> Iterator[str]:
    try:
        folders, file_names = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in file_names:
        yield f"{folder}/{name}"
    for child in folders:
        yield from _walk(f"{folder}/{child}")


def modified(name: str) -> datetime:
    """When a stored file was last written (aware)."""
    return default_storage.get_modified_time(name)


def remove_after_commit(deleted: Iterable[tuple[str, str]]) -> None:
    """Delete the stored files of attachments deleted in the current transaction, given
    as (file, thumbnail) names, once it commits (at once outside one): rows that a
    rollback brings back keep their files."""
    names = [name for pair in deleted for name in pair if name]
    if names:
        transaction.on_commit(partial(remove, names), robust=True)


def served_type(content_type: str) -> str:
    """The Content-Type a file is answered with."""
    return f"{TEXT}; charset=utf-8" if content_type == TEXT else content_type


def is_inline(content_type: str) -> bool:
    """Whether a browser may show the file in place (a re-encoded image) rather than save it."""
    return content_type in IMAGE_TYPES.values()


def redirects() -> bool:
    """Whether downloads redirect to the storage's own signed URL (object storage) instead
    of passing the bytes through the API."""
    return default_storage.__class__.__module__.startswith("storages.backends.s3")


def storage_url(name: str, *, content_type: str, filename: str, inline: bool) -> str:
    """A short-lived URL of the object storage that answers the file with our headers."""
    from chat_project.fileresponse import content_disposition

    return default_storage.url(
        name,
        parameters={
            "ResponseContentType": served_type(content_type),
            "ResponseContentDisposition": content_disposition(filename, inline=inline),
            "ResponseCacheControl": "private, max-age=60",
        },
    )


# --- Links ------------------------------------------------------------------------------

_signer = signing.Signer(salt="threads.attachment-links")
ORIGINAL, THUMBNAIL = "file", "thumbnail"


def link(attachment_id: int, kind: str = ORIGINAL, *, now: float | None = None) -> str:
    """The signed path of an attachment's file or thumbnail, relative to the API's origin.
    It expires at the end of the period after the current one, so it is the same for
    every message built during one period and lives between one and two periods."""
    period = settings.ATTACHMENT_URL_SECONDS
    now = time.time() if now is None else now
    expires = (int(now) // period + 2) * period
    path = f"/api/attachments/{attachment_id}"
    if kind == THUMBNAIL:
        path += "/thumbnail"
    return f"{path}?expires={expires}&signature={_signature(attachment_id, kind, expires)}"


def link_is_valid(attachment_id: int, kind: str, expires: str, signature: str) -> bool:
    """Whether `signature` is ours for this file and `expires` has not passed."""
    if not expires.isdigit() or len(expires) > 12:
        return False
    if int(expires) < time.time():
        return False
    return constant_time_compare(signature, _signature(attachment_id, kind, int(expires)))


def _signature(attachment_id: int, kind: str, expires: int) -> str:
    return _signer.signature(f"{attachment_id}:{kind}:{expires}")
