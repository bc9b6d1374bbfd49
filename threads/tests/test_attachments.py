"""Attachments: people upload files into their threads, send them with messages, and the
other participant downloads them; strangers see nothing, and files go with what they
belong to.

The files are kept in a temporary MEDIA_ROOT, or, when the environment configures object
storage (`make test-s3`: AWS_STORAGE_BUCKET_NAME and a local S3-compatible server), under
a prefix of their own in that bucket; downloads then redirect to the storage, and the
stories follow the redirect.
"""

import contextlib
import io
import os
import struct
import urllib.error
import urllib.request
import uuid
import zlib
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from PIL import Image

from conftest import client_for, run_concurrently
from threads import files
from threads.models import Attachment, Message
from threads.tests.factories import MessageFactory, ThreadFactory
from users.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ON_OBJECT_STORAGE = bool(os.environ.get("AWS_STORAGE_BUCKET_NAME"))


@pytest.fixture(autouse=True)
def storage(settings, tmp_path):
    """A storage of this test's own: a temporary MEDIA_ROOT, or a fresh prefix in the
    configured bucket (made if missing)."""
    if not ON_OBJECT_STORAGE:
        settings.MEDIA_ROOT = tmp_path / "media"
        yield default_storage
        return
    options = {**settings.STORAGES["default"]["OPTIONS"], "location": f"test-{uuid.uuid4().hex}"}
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": options},
    }
    bucket = default_storage.bucket
    with contextlib.suppress(bucket.meta.client.exceptions.BucketAlreadyOwnedByYou):
        bucket.create()
    yield default_storage
    bucket.objects.filter(Prefix=options["location"] + "/").delete()


def stored_files() -> set[str]:
    """Every file name the storage holds for attachments."""
    return {name for names in files.stored_names_in_batches() for name in names}


# --- Files to upload -------------------------------------------------------------------


def upload_file(name: str, content: bytes, content_type: str = "application/octet-stream"):
    handle = io.BytesIO(content)
    handle.name = name
    handle.content_type = content_type  # what the client claims; never trusted
    return handle


def image_bytes(image_format="PNG", size=(64, 48), mode="RGB", **params) -> bytes:
    output = io.BytesIO()
    Image.new(mode, size, (200, 30, 30)).save(output, format=image_format, **params)
    return output.getvalue()


def jpeg_with_gps(orientation: int | None = None) -> bytes:
    """A camera-like JPEG: EXIF with the camera's name and the GPS position it was taken at."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "PhoneModel"  # Model
    if orientation is not None:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)})
    data = image_bytes("JPEG", exif=exif.tobytes(), comment=b"shot at home")
    # The checks below could fail: the metadata is there to strip.
    assert b"Exif" in data
    assert b"PhoneMaker" in data
    return data


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header says it is `width` x `height` (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n" + bytes(range(256)) * 4


def upload(client, thread, name="notes.pdf", content=PDF, content_type="application/pdf"):
    return client.post(
        f"/api/threads/{thread.pk}/attachments",
        {"file": upload_file(name, content, content_type)},
        format="multipart",
    )


@pytest.fixture
def uploaded(alice_client, thread):
    """Upload as alice into her thread with bob; the answer's JSON."""

    def make(**kwargs):
        response = upload(alice_client, thread, **kwargs)
        assert response.status_code == 201, response.content
        return response.json()

    return make


class Fetched:
    """A download's status, headers and bytes, wherever they came from."""

    def __init__(self, status_code: int, headers, content: bytes) -> None:
        self.status_code, self.headers, self.content = status_code, headers, content


def download(client, url: str, **headers) -> Fetched:
    """GET `url` as `client` would, following a redirect to the object storage with the
    same request headers (as a browser does)."""
    response = client.get(url, **{f"HTTP_{name.upper()}": value for name, value in headers.items()})
    if response.status_code != 302:
        content = (
            b"".join(response.streaming_content)
            if response.streaming
            else (response.content if response.status_code != 304 else b"")
        )
        return Fetched(response.status_code, response.headers, content)
    assert response["Location"].startswith("http")
    request = urllib.request.Request(response["Location"])  # noqa: S310 (checked just above)
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return Fetched(answer.status, answer.headers, answer.read())
    except urllib.error.HTTPError as error:
        return Fetched(error.code, error.headers, error.read())


# --- Uploading ---------------------------------------------------------------------------


def test_a_participant_uploads_a_file_and_gets_its_description(alice_client, thread):
    response = upload(alice_client, thread)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id",
        "name",
        "size",
        "content_type",
        "width",
        "height",
        "url",
        "thumbnail_url",
    }
    assert body["name"] == "notes.pdf"
    assert body["size"] == len(PDF)
    assert body["content_type"] == "application/pdf"
    assert (body["width"], body["height"], body["thumbnail_url"]) == (None, None, None)
    assert body["url"].startswith(f"/api/attachments/{body['id']}?expires=")


def test_an_image_gets_its_size_and_a_thumbnail(alice_client, thread):
    response = upload(alice_client, thread, name="red.png", content=image_bytes(size=(640, 480)))

    body = response.json()
    assert response.status_code == 201
    assert (body["content_type"], body["width"], body["height"]) == ("image/png", 640, 480)
    assert body["thumbnail_url"].startswith(f"/api/attachments/{body['id']}/thumbnail?")
    thumbnail = download(alice_client, body["thumbnail_url"])
    assert thumbnail.status_code == 200
    assert thumbnail.headers["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(thumbnail.content)).size == (320, 240)


def test_the_type_comes_from_the_bytes_not_the_client(alice_client, thread):
    # A PNG sent as "notes.txt, text/plain" is a PNG.
    response = upload(
        alice_client, thread, name="notes.txt", content=image_bytes(), content_type="text/plain"
    )

    assert response.json()["content_type"] == "image/png"


def test_text_is_recognised_and_served_as_plain_text_to_download(alice_client, thread):
    page = b"<html><script>alert(1)</script></html>"
    body = upload(
        alice_client, thread, name="page.html", content=page, content_type="text/html"
    ).json()

    assert body["content_type"] == "text/plain"
    fetched = download(alice_client, body["url"])
    assert fetched.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert fetched.headers["Content-Disposition"].startswith("attachment;")
    assert fetched.content == page


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("photo.png", b"\x89PNG\r\n\x1a\n" + b"not really an image" * 20, "image/png"),
        ("photo.jpg", b"<svg onload='alert(1)'></svg>", "image/jpeg"),
        ("photo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        ("anything.bin", b"<html>hi</html>", "image/gif"),
    ],
)
def test_a_file_that_claims_to_be_an_image_but_is_not_is_only_downloaded(
    alice_client, thread, name, content, content_type
):
    body = upload(alice_client, thread, name=name, content=content, content_type=content_type)

    assert body.status_code == 201
    body = body.json()
    assert body["content_type"] == "application/octet-stream"
    assert (body["width"], body["height"], body["thumbnail_url"]) == (None, None, None)
    fetched = download(alice_client, body["url"])
    assert fetched.headers["Content-Type"] == "application/octet-stream"
    assert fetched.headers["Content-Disposition"].startswith("attachment;")
    assert fetched.content == content


def test_exif_and_gps_are_stripped_before_the_image_is_stored(alice_client, thread):
    body = upload(
        alice_client, thread, name="holiday.jpg", content=jpeg_with_gps(), content_type="image/jpeg"
    ).json()

    stored = download(alice_client, body["url"]).content
    assert body["content_type"] == "image/jpeg"
    assert b"Exif" not in stored
    assert b"PhoneMaker" not in stored
    assert b"shot at home" not in stored
    image = Image.open(io.BytesIO(stored))
    assert not image.getexif()
    assert not image.getexif().get_ifd(0x8825)
    assert body["size"] == len(stored)


def test_a_rotated_photo_is_stored_upright(alice_client, thread):
    # EXIF orientation 6: the camera was turned; without the tag the image must be turned.
    body = upload(
        alice_client, thread, name="portrait.jpg", content=jpeg_with_gps(orientation=6)
    ).json()

    assert (body["width"], body["height"]) == (48, 64)


@pytest.mark.parametrize("image_format", ["GIF", "WEBP", "BMP"])
def test_other_image_formats_are_kept_as_images(alice_client, thread, image_format):
    body = upload(
        alice_client, thread, name=f"x.{image_format.lower()}", content=image_bytes(image_format)
    ).json()

    expected = {"GIF": "image/gif", "WEBP": "image/webp", "BMP": "image/png"}[image_format]
    assert (body["content_type"], body["width"], body["height"]) == (expected, 64, 48)
    assert body["thumbnail_url"] is not None


def test_an_animation_keeps_its_frames(alice_client, thread):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    frames = [Image.new("RGB", (32, 32), colour) for colour in colours]
    output = io.BytesIO()
    frames[0].save(output, format="GIF", save_all=True, append_images=frames[1:], comment=b"secret")
    assert Image.open(io.BytesIO(output.getvalue())).n_frames == 3
    assert b"secret" in output.getvalue()

    body = upload(alice_client, thread, name="dance.gif", content=output.getvalue()).json()

    stored = download(alice_client, body["url"]).content
    assert Image.open(io.BytesIO(stored)).n_frames == 3
    assert b"secret" not in stored


def test_a_decompression_bomb_is_refused(alice_client, thread):
    response = upload(alice_client, thread, name="bomb.png", content=png_claiming(100_000, 100_000))

    assert response.status_code == 400
    assert response.json() == {"file": ["The image has too many pixels to be decoded safely."]}
    assert not stored_files()


def gif_of_tiny_frames(count: int) -> bytes:
    """A GIF of `count` 1x1 frames, 23 bytes each: few pixels, but every frame costs its
    decoding and re-encoding."""
    header = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
    loop = b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = b"!\xf9\x04\x04\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00"
    return header + loop + frame * count + b";"


def test_an_animation_of_too_many_frames_is_refused(alice_client, thread):
    content = gif_of_tiny_frames(files.MAX_IMAGE_FRAMES + 1)

    response = upload(alice_client, thread, name="flood.gif", content=content)

    assert response.status_code == 400
    assert response.json() == {
        "file": [f"The animation has too many frames: at most {files.MAX_IMAGE_FRAMES}."]
    }
    assert not stored_files()


def test_an_animation_of_as_many_frames_as_allowed_is_kept(alice_client, thread):
    content = gif_of_tiny_frames(files.MAX_IMAGE_FRAMES)

    response = upload(alice_client, thread, name="flip.gif", content=content)

    assert response.status_code == 201
    assert response.json()["content_type"] == "image/gif"


def test_an_image_over_the_pixel_limit_is_refused(alice_client, thread, settings):
    settings.ATTACHMENT_MAX_IMAGE_PIXELS = 50 * 50

    response = upload(alice_client, thread, name="big.png", content=image_bytes(size=(64, 48)))

    assert response.status_code == 400
    assert Attachment.objects.count() == 0


def test_a_file_over_the_size_limit_is_refused_with_413(alice_client, thread, settings):
    settings.ATTACHMENT_MAX_BYTES = 1000

    too_big = upload(alice_client, thread, content=b"x" * 1001)
    just_right = upload(alice_client, thread, content=b"x" * 1000)

    assert too_big.status_code == 413
    assert too_big.json() == {
        "detail": "The file is too large: at most 1000 bytes.",
        "code": "file_too_large",
    }
    assert just_right.status_code == 201
    assert Attachment.objects.count() == 1


def test_the_size_limit_stops_reading_the_upload_as_it_streams(
    alice_client, thread, settings, monkeypatch
):
    """A body within the declared envelope whose file passes the limit is cut off there:
    the rest of it is never read."""
    from django.test.client import FakePayload

    settings.ATTACHMENT_MAX_BYTES = 20_000
    read = []
    original_read = FakePayload.read

    def counting_read(self, *args, **kwargs):
        chunk = original_read(self, *args, **kwargs)
        read.append(len(chunk))
        return chunk

    monkeypatch.setattr(FakePayload, "read", counting_read)
    # Within the limit and its envelope (64 KiB), so only streaming can stop it; more than
    # the parser's first read (64 KiB), so there is a rest left unread.
    body = b"y" * 80_000

    response = upload(alice_client, thread, content=body)

    assert response.status_code == 413
    assert sum(read) < len(body)
    assert not stored_files()


def test_a_body_declared_over_the_limit_is_refused_before_it_is_read(
    alice_client, thread, settings
):
    settings.ATTACHMENT_MAX_BYTES = 1000

    response = alice_client.post(
        f"/api/threads/{thread.pk}/attachments",
        b"z" * 70_000,
        content_type="multipart/form-data; boundary=x",
    )

    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"


def test_only_the_upload_route_takes_large_bodies(alice_client, thread):
    response = alice_client.post(
        f"/api/threads/{thread.pk}/messages", {"text": "x" * 70_000}, format="json"
    )

    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({}, "No file was submitted."),
        ({"file": "just text"}, "The submitted data was not a file."),
    ],
)
def test_an_upload_without_a_file_is_a_400(alice_client, thread, data, error):
    response = alice_client.post(f"/api/threads/{thread.pk}/attachments", data, format="multipart")

    assert response.status_code == 400
    assert error in str(response.json()["file"])


def test_an_empty_file_is_refused(alice_client, thread):
    response = upload(alice_client, thread, content=b"")

    assert response.status_code == 400
    assert "file" in response.json()


def test_an_upload_must_be_multipart(alice_client, thread):
    response = alice_client.post(
        f"/api/threads/{thread.pk}/attachments", {"file": "x"}, format="json"
    )

    assert response.status_code == 415


def test_a_stranger_cannot_upload_into_the_thread(mallory_client, thread):
    response = upload(mallory_client, thread)

    assert response.status_code == 404
    assert not stored_files()


def test_anonymous_cannot_upload(anon_client, thread):
    assert upload(anon_client, thread).status_code == 401


def test_someone_blocked_by_the_other_participant_cannot_upload(alice_client, bob_client, thread):
    bob_client.post("/api/user/blocks/", {"user": thread.participants.get(username="alice").pk})

    response = upload(alice_client, thread)

    assert response.status_code == 403
    assert not stored_files()


def test_two_files_in_one_upload_are_refused(alice_client, thread):
    response = alice_client.post(
        f"/api/threads/{thread.pk}/attachments",
        {"file": [upload_file("a.pdf", PDF), upload_file("b.pdf", PDF)]},
        format="multipart",
    )

    assert response.status_code == 400
    assert response.json()["file"] == ["One file per upload."]
    assert not Attachment.objects.exists()
    assert not stored_files()


def test_the_file_name_is_cleaned(alice_client, thread):
    body = upload(alice_client, thread, name="../../etc/pass\x00wd\u202e.pdf").json()

    assert body["name"] == "passwd.pdf"


# --- Downloading -------------------------------------------------------------------------


def test_the_other_participant_downloads_the_file_once_it_is_sent(
    alice_client, bob_client, thread, uploaded
):
    body = uploaded()
    assert post(alice_client, thread, attachments=[body["id"]]).status_code == 201

    fetched = download(bob_client, f"/api/attachments/{body['id']}")

    assert fetched.status_code == 200
    assert fetched.content == PDF
    assert fetched.headers["Content-Type"] == "application/pdf"
    assert fetched.headers["Content-Disposition"] == 'attachment; filename="notes.pdf"'
    if not ON_OBJECT_STORAGE:
        assert fetched.headers["X-Content-Type-Options"] == "nosniff"
        assert fetched.headers["Cache-Control"].startswith("private")
        assert fetched.headers["ETag"]
        assert fetched.headers["Last-Modified"]
        assert fetched.headers["Content-Length"] == str(len(PDF))


def test_an_upload_not_sent_yet_is_its_uploaders_alone(alice_client, bob_client, uploaded):
    body = uploaded(name="draft.png", content=image_bytes())

    assert download(alice_client, f"/api/attachments/{body['id']}").status_code == 200
    assert download(bob_client, f"/api/attachments/{body['id']}").status_code == 404
    assert download(bob_client, f"/api/attachments/{body['id']}/thumbnail").status_code == 404


def test_an_image_is_shown_inline(alice_client, uploaded):
    body = uploaded(name="red.png", content=image_bytes())

    fetched = download(alice_client, body["url"])

    assert fetched.headers["Content-Type"] == "image/png"
    assert fetched.headers["Content-Disposition"] == 'inline; filename="red.png"'


def test_a_name_outside_ascii_is_sent_safely(alice_client, uploaded):
    body = uploaded(name='Привет "мир".pdf')

    fetched = download(alice_client, f"/api/attachments/{body['id']}")

    assert fetched.headers["Content-Disposition"] == (
        'attachment; filename="______ _____.pdf"; '
        "filename*=UTF-8''%D0%9F%D1%80%D0%B8%D0%B2%D0%B5%D1%82%20%22%D0%BC%D0%B8%D1%80%22.pdf"
    )


def test_a_stranger_gets_404_for_the_file_and_its_thumbnail(mallory_client, uploaded):
    body = uploaded(name="red.png", content=image_bytes())

    for path in (f"/api/attachments/{body['id']}", f"/api/attachments/{body['id']}/thumbnail"):
        response = mallory_client.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"


def test_an_unknown_attachment_is_404(alice_client):
    assert alice_client.get("/api/attachments/999999").status_code == 404


def test_anonymous_without_a_signed_link_gets_401(anon_client, uploaded):
    body = uploaded()

    assert anon_client.get(f"/api/attachments/{body['id']}").status_code == 401


def test_the_signed_link_works_without_a_token(anon_client, uploaded):
    """A browser's <img src> sends no Authorization header: the link itself vouches."""
    body = uploaded(name="red.png", content=image_bytes())

    assert download(anon_client, body["url"]).status_code == 200
    assert download(anon_client, body["thumbnail_url"]).status_code == 200


def test_a_tampered_or_expired_link_is_refused(anon_client, uploaded):
    body = uploaded(name="red.png", content=image_bytes())
    attachment_id = body["id"]
    expired = files.link(attachment_id, now=timezone.now().timestamp() - 3 * 3600)
    other = uploaded()
    tampered = body["url"].replace(f"/{attachment_id}?", f"/{other['id']}?")
    thumbnail_link_for_the_file = body["thumbnail_url"].replace("/thumbnail", "")

    for url in (expired, tampered, thumbnail_link_for_the_file, body["url"] + "x"):
        response = anon_client.get(url)
        assert response.status_code == 403, url
        assert response.json()["code"] == "link_invalid"


def test_with_a_token_the_token_decides_and_the_link_is_ignored(
    alice_client, mallory_client, uploaded
):
    body = uploaded()
    expired = files.link(body["id"], now=timezone.now().timestamp() - 3 * 3600)

    assert mallory_client.get(body["url"]).status_code == 404
    assert download(alice_client, expired).status_code == 200


def test_a_link_stays_the_same_within_its_period(settings):
    settings.ATTACHMENT_URL_SECONDS = 3600
    start = 1_800_000_000 - 1_800_000_000 % 3600

    assert files.link(7, now=start) == files.link(7, now=start + 3599)
    assert files.link(7, now=start) != files.link(7, now=start + 3600)


def test_a_file_has_no_thumbnail(alice_client, uploaded):
    body = uploaded()

    response = alice_client.get(f"/api/attachments/{body['id']}/thumbnail")

    assert response.status_code == 404


def test_the_answer_ignores_what_the_client_accepts(alice_client, uploaded):
    body = uploaded()

    fetched = download(alice_client, body["url"], accept="image/avif,image/webp")

    assert fetched.status_code == 200


def test_a_cached_copy_is_revalidated_with_304(alice_client, uploaded):
    body = uploaded()
    first = download(alice_client, body["url"])

    by_etag = download(alice_client, body["url"], if_none_match=first.headers["ETag"])
    by_date = download(alice_client, body["url"], if_modified_since=first.headers["Last-Modified"])
    changed = download(alice_client, body["url"], if_none_match='"something-else"')

    assert (by_etag.status_code, by_date.status_code, changed.status_code) == (304, 304, 200)
    assert by_etag.content == b""
    assert by_etag.headers["ETag"] == first.headers["ETag"]


@pytest.mark.parametrize(
    ("header", "status", "part"),
    [
        ("bytes=0-99", 206, slice(0, 100)),
        ("bytes=100-", 206, slice(100, None)),
        ("bytes=-10", 206, slice(-10, None)),
        ("bytes=1000-99999", 206, slice(1000, None)),
        ("bytes=0-0", 206, slice(0, 1)),
    ],
)
def test_a_byte_range_is_answered_with_206(alice_client, uploaded, header, status, part):
    body = uploaded()

    fetched = download(alice_client, body["url"], range=header)

    assert fetched.status_code == status
    assert fetched.content == PDF[part]
    first, end, _ = part.indices(len(PDF))
    assert fetched.headers["Content-Range"] == f"bytes {first}-{end - 1}/{len(PDF)}"


def test_a_range_past_the_end_is_416(alice_client, uploaded):
    body = uploaded()

    fetched = download(alice_client, body["url"], range=f"bytes={len(PDF)}-")

    assert fetched.status_code == 416
    if not ON_OBJECT_STORAGE:
        assert fetched.headers["Content-Range"] == f"bytes */{len(PDF)}"


@pytest.mark.skipif(ON_OBJECT_STORAGE, reason="the storage's own range rules apply there")
@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "bytes=9-3", "items=0-1", "bytes=x-"])
def test_ranges_that_are_not_one_valid_range_get_the_whole_file(alice_client, uploaded, header):
    body = uploaded()

    fetched = download(alice_client, body["url"], range=header)

    assert (fetched.status_code, fetched.content) == (200, PDF)


@pytest.mark.skipif(ON_OBJECT_STORAGE, reason="moto does not implement If-Range")
def test_if_range_sends_the_part_only_for_the_same_version(alice_client, uploaded):
    body = uploaded()
    etag = download(alice_client, body["url"]).headers["ETag"]

    same = download(alice_client, body["url"], range="bytes=0-9", if_range=etag)
    other = download(alice_client, body["url"], range="bytes=0-9", if_range='"old"')

    assert (same.status_code, same.content) == (206, PDF[:10])
    assert (other.status_code, other.content) == (200, PDF)


@pytest.mark.skipif(ON_OBJECT_STORAGE, reason="downloads redirect on object storage")
def test_head_answers_the_headers_only(alice_client, uploaded):
    body = uploaded()

    response = alice_client.head(body["url"])

    assert response.status_code == 200
    assert response["Content-Length"] == str(len(PDF))
    assert response.content == b""


@pytest.mark.skipif(not ON_OBJECT_STORAGE, reason="only object storage redirects")
def test_on_object_storage_the_download_redirects_to_a_short_lived_signed_url(
    alice_client, uploaded
):
    body = uploaded()

    response = alice_client.get(body["url"])

    assert response.status_code == 302
    assert "X-Amz-Signature=" in response["Location"]
    assert "X-Amz-Expires=60" in response["Location"]
    assert response["Cache-Control"] == "private, no-store"


# --- Sending files in messages -----------------------------------------------------------


def post(client, thread, **body):
    return client.post(f"/api/threads/{thread.pk}/messages", body, format="json")


def test_a_message_carries_its_attachments_in_every_answer(
    alice_client, bob_client, thread, uploaded
):
    photo = uploaded(name="red.png", content=image_bytes())
    notes = uploaded()

    sent = post(alice_client, thread, text="Look", attachments=[notes["id"], photo["id"]])

    assert sent.status_code == 201
    message = sent.json()
    assert list(message)[-2:] == ["attachments", "reactions"]
    assert message["attachments"] == [notes, photo]  # in the order the sender listed them
    page = bob_client.get(f"/api/threads/{thread.pk}/messages/").json()["results"]
    window = bob_client.get(f"/api/threads/{thread.pk}/messages/?before=999999").json()
    one = bob_client.get(f"/api/threads/{thread.pk}/messages/{message['id']}/").json()
    listed = bob_client.get("/api/threads/").json()["results"][0]["last_message"]
    found = bob_client.get("/api/messages/?search=Look").json()["results"]
    for seen in (page[0], window["results"][0], one, listed, found[0]):
        assert seen["attachments"] == message["attachments"]


def test_a_message_may_be_files_alone(alice_client, thread, uploaded):
    photo = uploaded(name="red.png", content=image_bytes())

    response = post(alice_client, thread, attachments=[photo["id"]])

    assert response.status_code == 201
    assert response.json()["text"] == ""
    assert response.json()["attachments"] == [photo]


@pytest.mark.parametrize("body", [{}, {"attachments": []}, {"text": "  ", "attachments": []}])
def test_a_message_without_text_or_files_is_still_refused(alice_client, thread, body):
    response = post(alice_client, thread, **body)

    assert response.status_code == 400
    assert "text" in response.json()


def test_someone_elses_upload_cannot_be_sent(bob_client, thread, uploaded):
    alices = uploaded()

    response = post(bob_client, thread, text="mine now", attachments=[alices["id"]])

    assert response.status_code == 400
    assert response.json() == {
        "attachments": ["Unknown attachment: send the ids of files you uploaded into this thread."]
    }
    assert Message.objects.filter(text="mine now").count() == 0


def test_an_upload_from_another_thread_cannot_be_sent(alice, alice_client, thread, mallory):
    other_thread = ThreadFactory(participants=[alice, mallory])
    elsewhere = upload(alice_client, other_thread).json()

    response = post(alice_client, thread, text="x", attachments=[elsewhere["id"]])

    assert response.status_code == 400


def test_an_unknown_attachment_id_cannot_be_sent(alice_client, thread):
    response = post(alice_client, thread, text="x", attachments=[123456])

    assert response.status_code == 400
    assert "attachments" in response.json()


def test_an_attachment_already_sent_cannot_be_sent_again(alice_client, thread, uploaded):
    photo = uploaded()
    post(alice_client, thread, text="first", attachments=[photo["id"]])

    again = post(alice_client, thread, text="second", attachments=[photo["id"]])

    assert again.status_code == 409
    assert again.json()["code"] == "attachment_in_use"
    assert not Message.objects.filter(text="second").exists()


def test_at_most_ten_attachments_each_once(alice_client, thread, uploaded):
    ids = [uploaded()["id"] for _ in range(11)]

    too_many = post(alice_client, thread, text="x", attachments=ids)
    repeated = post(alice_client, thread, text="x", attachments=[ids[0], ids[0]])
    ten = post(alice_client, thread, text="x", attachments=ids[:10])

    assert too_many.status_code == 400
    assert "no more than 10" in str(too_many.json()["attachments"])
    assert repeated.json() == {"attachments": ["Each attachment can be listed once."]}
    assert ten.status_code == 201


@pytest.mark.parametrize("bad", ["1", [0], ["x"], [True], [{"id": 1}], [2**63]])
def test_attachment_ids_must_be_ids(alice_client, thread, bad):
    response = post(alice_client, thread, text="x", attachments=bad)

    assert response.status_code == 400
    assert "attachments" in response.json()


def test_a_retry_with_the_same_files_gets_the_original(alice_client, thread, uploaded):
    photo = uploaded()
    client_id = str(uuid.uuid4())

    first = post(alice_client, thread, attachments=[photo["id"]], client_id=client_id)
    retry = post(alice_client, thread, attachments=[photo["id"]], client_id=client_id)
    other = post(alice_client, thread, attachments=[uploaded()["id"]], client_id=client_id)

    assert (first.status_code, retry.status_code, other.status_code) == (201, 200, 409)
    assert retry.json()["id"] == first.json()["id"]
    assert retry.json()["attachments"] == first.json()["attachments"]


@pytest.mark.django_db(transaction=True)
def test_two_messages_racing_for_one_attachment_exactly_one_wins(storage, settings, tmp_path):
    alice, bob = UserFactory(), UserFactory()
    thread = ThreadFactory(participants=[alice, bob])
    alice_client = client_for(alice)
    photo = upload(alice_client, thread).json()

    def send(text):
        return lambda: post(client_for(alice), thread, text=text, attachments=[photo["id"]])

    responses = run_concurrently([send(f"race {i}") for i in range(6)])

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201, 409, 409, 409, 409, 409]
    assert Attachment.objects.get(pk=photo["id"]).message.text.startswith("race")
    assert Message.objects.filter(text__startswith="race").count() == 1


# --- Editing ---------------------------------------------------------------------------


def edit(client, message_id, thread, **body):
    return client.patch(f"/api/threads/{thread.pk}/messages/{message_id}/", body, format="json")


def test_editing_replaces_the_attachments_and_removes_the_ones_left_out(
    alice_client, thread, uploaded, django_capture_on_commit_callbacks
):
    kept, dropped, added = uploaded(), uploaded(name="old.png", content=image_bytes()), uploaded()
    message = post(alice_client, thread, text="v1", attachments=[kept["id"], dropped["id"]]).json()
    before = stored_files()

    with django_capture_on_commit_callbacks(execute=True):
        response = edit(alice_client, message["id"], thread, attachments=[added["id"], kept["id"]])

    assert response.status_code == 200
    assert [file["id"] for file in response.json()["attachments"]] == [added["id"], kept["id"]]
    assert response.json()["text"] == "v1"
    assert response.json()["edited"] is not None
    assert not Attachment.objects.filter(pk=dropped["id"]).exists()
    assert len(before - stored_files()) == 2  # the dropped image and its thumbnail


def test_an_edit_may_empty_the_text_of_a_message_with_files(alice_client, thread, uploaded):
    message = post(alice_client, thread, text="caption", attachments=[uploaded()["id"]]).json()

    response = edit(alice_client, message["id"], thread, text="")

    assert response.status_code == 200
    assert response.json()["text"] == ""


def test_an_edit_cannot_leave_a_message_empty(alice_client, thread, uploaded):
    message = post(alice_client, thread, attachments=[uploaded()["id"]]).json()
    text_only = post(alice_client, thread, text="hi").json()

    no_files = edit(alice_client, message["id"], thread, attachments=[])
    blank = edit(alice_client, text_only["id"], thread, text=" ")

    assert no_files.status_code == 400
    assert blank.json() == {"text": ["This field may not be blank."]}


def test_an_edit_cannot_take_an_attachment_of_another_message(alice_client, thread, uploaded):
    photo = uploaded()
    post(alice_client, thread, text="first", attachments=[photo["id"]])
    second = post(alice_client, thread, text="second").json()

    response = edit(alice_client, second["id"], thread, attachments=[photo["id"]])

    assert response.status_code == 409
    assert Attachment.objects.get(pk=photo["id"]).message.text == "first"


def test_the_other_participant_cannot_change_the_attachments(
    alice_client, bob_client, thread, uploaded
):
    message = post(alice_client, thread, attachments=[uploaded()["id"]]).json()

    response = edit(bob_client, message["id"], thread, attachments=[])

    assert response.status_code == 403


# --- Files go with what they belong to ---------------------------------------------------


def test_deleting_a_message_removes_its_files_after_the_commit(
    alice_client, thread, uploaded, django_capture_on_commit_callbacks
):
    photo = uploaded(name="red.png", content=image_bytes())
    message = post(alice_client, thread, attachments=[photo["id"]]).json()
    assert len(stored_files()) == 2

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = alice_client.delete(f"/api/threads/{thread.pk}/messages/{message['id']}/")
        assert len(stored_files()) == 2  # not before the commit
    for callback in callbacks:
        callback()

    assert response.status_code == 204
    assert stored_files() == set()
    deleted = alice_client.get(f"/api/threads/{thread.pk}/messages/{message['id']}/").json()
    assert deleted["attachments"] == []
    assert alice_client.get(photo["url"]).status_code == 404


def test_deleting_a_thread_removes_every_file_in_it(
    alice_client, thread, uploaded, django_capture_on_commit_callbacks
):
    post(alice_client, thread, attachments=[uploaded()["id"]])
    uploaded()  # never sent

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.delete(f"/api/threads/{thread.pk}/")

    assert response.status_code == 204
    assert stored_files() == set()
    assert Attachment.objects.count() == 0


def test_a_moderator_purging_a_message_removes_its_files(
    alice_client, thread, uploaded, admin_client, django_capture_on_commit_callbacks
):
    message = post(alice_client, thread, attachments=[uploaded()["id"]]).json()

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/admin/threads/message/{message['id']}/delete/", {"post": "yes"})

    assert not Message.objects.filter(pk=message["id"]).exists()
    assert stored_files() == set()


def test_removing_an_account_removes_the_files_of_its_conversations(
    alice, alice_client, thread, uploaded, admin_client, django_capture_on_commit_callbacks
):
    post(alice_client, thread, attachments=[uploaded()["id"]])

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(f"/admin/users/user/{alice.pk}/delete/", {"post": "yes"})

    assert stored_files() == set()
    assert Attachment.objects.count() == 0


def test_closing_an_account_removes_its_unsent_uploads_and_keeps_the_sent_ones(
    alice, alice_client, bob_client, thread, uploaded, django_capture_on_commit_callbacks
):
    sent = uploaded()
    post(alice_client, thread, attachments=[sent["id"]])
    uploaded()  # never sent

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.delete(
            "/api/user/me/", {"current_password": DEFAULT_PASSWORD}, format="json"
        )

    assert response.status_code == 204, response.content
    assert list(Attachment.objects.values_list("pk", flat=True)) == [sent["id"]]
    assert download(bob_client, sent["url"]).status_code == 200


def test_unsent_uploads_are_pruned_after_a_day(
    alice_client, thread, uploaded, django_capture_on_commit_callbacks
):
    old_unsent, recent_unsent, old_sent = uploaded(), uploaded(), uploaded()
    post(alice_client, thread, attachments=[old_sent["id"]])
    Attachment.objects.filter(pk__in=[old_unsent["id"], old_sent["id"]]).update(
        created=timezone.now() - timedelta(days=1, minutes=1)
    )
    output = io.StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("attachments_prune", stdout=output)

    assert set(Attachment.objects.values_list("pk", flat=True)) == {
        recent_unsent["id"],
        old_sent["id"],
    }
    assert len(stored_files()) == 2
    assert "Removed 1 unused attachment(s)." in output.getvalue()


def test_the_prune_command_also_finds_files_nothing_names(alice_client, thread, uploaded):
    post(alice_client, thread, attachments=[uploaded()["id"]])
    orphan = default_storage.save(files.storage_name(), io.BytesIO(b"left by a crash"))

    call_command("attachments_prune", "--orphans", "--hours", "0", stdout=io.StringIO())

    assert orphan not in stored_files()
    assert len(stored_files()) == 1


# --- Moderation ----------------------------------------------------------------------------


def test_the_admin_lists_attachments_and_shows_them_on_their_message(
    alice_client, thread, uploaded, admin_client
):
    photo = uploaded(name="red.png", content=image_bytes())
    message = post(alice_client, thread, attachments=[photo["id"]]).json()

    listing = admin_client.get("/admin/threads/attachment/")
    detail = admin_client.get(f"/admin/threads/attachment/{photo['id']}/change/")
    on_message = admin_client.get(f"/admin/threads/message/{message['id']}/change/")

    assert listing.status_code == detail.status_code == on_message.status_code == 200
    assert b"red.png" in listing.content
    assert b"red.png" in on_message.content
    assert f"/api/attachments/{photo['id']}?expires=".encode() in on_message.content


# --- Query counts ----------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 30])
def test_pages_read_attachments_in_one_query(
    alice, alice_client, thread, uploaded, django_assert_max_num_queries, count
):
    for i in range(count):
        ids = [uploaded()["id"], uploaded()["id"]]
        post(alice_client, thread, text=f"files {i}", attachments=ids)
        MessageFactory(thread=thread, sender=alice, text=f"plain {i}")
    for _ in range(count):  # threads whose last message has files
        other = ThreadFactory(participants=[alice, UserFactory()])
        post(alice_client, other, attachments=[upload(alice_client, other).json()["id"]])

    # Each also reads its messages' reactions, in one query (test_reactions.py).
    for path, ceiling in [
        (f"/api/threads/{thread.pk}/messages/?limit=100", 5),
        (f"/api/threads/{thread.pk}/messages/?limit=100&before=999999", 5),
        (f"/api/threads/{thread.pk}/messages/?limit=100&around=first_unread", 6),
        ("/api/messages/?search=files&limit=100", 5),
        ("/api/threads/?limit=100", 6),
        (f"/api/threads/{thread.pk}/", 5),
    ]:
        with django_assert_max_num_queries(ceiling):
            response = alice_client.get(path)
        assert response.status_code == 200, (path, response.content)
    rows = alice_client.get(f"/api/threads/{thread.pk}/messages/?limit=100").json()["results"]
    assert [len(row["attachments"]) for row in rows] == [0, 2] * count


def test_a_download_is_a_constant_number_of_queries(
    alice_client, uploaded, django_assert_max_num_queries
):
    body = uploaded()

    with django_assert_max_num_queries(2):
        download(alice_client, f"/api/attachments/{body['id']}")
    with django_assert_max_num_queries(1):
        download(Client(), body["url"])
