"""Files in request bodies: measured as they stream in, refused once past their limit."""

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, load_handler
from django.http import HttpRequest

from chat_project.exceptions import FileTooLarge


class SizeLimitUploadHandler(FileUploadHandler):
    """Counts the bytes of every file in a multipart body as Django's parser hands them
    over and raises FileTooLarge (413) as soon as they pass `limit`, before the rest is
    read: first in the chain, it sees each chunk before the handlers that keep it (in
    memory or a temporary file), so nothing over the limit is ever kept. A body that
    declares more than the limit and its envelope is refused before its first byte."""

    def __init__(self, request: HttpRequest, *, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        envelope = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0
        if content_length > self.limit + envelope:
            raise FileTooLarge
        return None  # the parser goes on with the body

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            raise FileTooLarge
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler makes the file


def limit_uploads(request: HttpRequest, *, limit: int) -> None:
    """Make `request` (Django's, before its body is parsed) refuse files over `limit` bytes
    while streaming, then keep them as Django would (FILE_UPLOAD_HANDLERS: small ones in
    memory, the rest in a temporary file)."""
    request.upload_handlers = [
        SizeLimitUploadHandler(request, limit=limit),
        *(load_handler(path, request) for path in settings.FILE_UPLOAD_HANDLERS),
    ]
