from functools import partial

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import HttpResponse, HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotAuthenticated
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat_project.exceptions import FileTooLarge
from chat_project.fileresponse import AnyAccept, StoredFile, file_response
from chat_project.routers import ID_PATTERN
from chat_project.schema import UNAUTHENTICATED, error, rule_error, validation_error
from chat_project.throttling import MessagePostThrottle
from chat_project.uploads import limit_uploads
from threads import files
from threads.errors import (
    AttachmentInUse,
    AttachmentNotFound,
    BlockedByOther,
    BlockedInThread,
    ClientIdReused,
    LinkInvalid,
    MessageDeleted,
    MessageDeletedNoReactions,
    NotTheSender,
    ResyncRequired,
    ThumbnailNotFound,
    TooManyReactions,
)
from threads.models import MAX_DISTINCT_REACTIONS, Attachment, Message, Thread
from threads.schema import (
    ATTACHMENT_PHOTO,
    MESSAGE,
    MESSAGE_EDITED,
    MESSAGE_PAGES,
    MESSAGE_WITH_FILES,
    REACTION,
    SYNC_CHANGES,
    THREAD,
    THREAD_NEW,
)
from threads.selectors import (
    ThreadMessages,
    UserMessages,
    attachment_by_link,
    attachment_for,
    attachment_row_of,
    changes_for,
    message_in,
    message_row_of,
    message_window_for,
    thread_for,
    thread_list_for,
    thread_row_for,
    threads_of,
    unread_total_for,
)
from threads.serializers import (
    AttachmentSerializer,
    AttachmentUploadSerializer,
    MarkReadResultSerializer,
    MarkReadSerializer,
    MessageListQuerySerializer,
    MessageOffsetPageSerializer,
    MessagePostSerializer,
    MessageSerializer,
    MessageWindowSerializer,
    MessageWriteSerializer,
    ReactionEmojiSerializer,
    ReactionSerializer,
    SyncQuerySerializer,
    SyncSerializer,
    ThreadCreateSerializer,
    ThreadSerializer,
    UnreadCountSerializer,
)
from threads.services import (
    attachment_upload,
    message_delete,
    message_edit,
    message_send,
    reaction_add,
    reaction_remove,
    thread_delete,
    thread_get_or_create,
    thread_mark_read,
)
from users.serializers import SearchQuerySerializer

BLOCKED = rule_error("The other participant has blocked the requester.", BlockedInThread)
NOT_THE_SENDER = rule_error("Only the sender may change a message.", NotTheSender)
ONE_MESSAGE = (
    "One message. Its sender may edit its text (PATCH) or delete it (DELETE); the\n"
    "other participant may only read it (403 otherwise)."
)
REACTIONS = (
    "The requester's reaction to a message: PUT adds it (201; 200 if it was there already),\n"
    "DELETE takes it back (204; 404 if there was none). Either participant may react to any\n"
    "live message of the thread, with several emoji; a message carries at most "
    f"{MAX_DISTINCT_REACTIONS}\ndifferent ones. Someone the other participant blocked cannot "
    "react (403), but may take\ntheir reactions back. Both participants hear a "
    "`reaction.added` or `reaction.removed`\nevent."
)
EMOJI_PARAMETER = OpenApiParameter(
    "emoji",
    str,
    OpenApiParameter.PATH,
    description="Exactly one emoji, URL-encoded in the path (👍 is `%F0%9F%91%8D`): skin "
    "tones, ZWJ sequences, flags and keycaps count as one. Spellings without the emoji "
    "variation selector are the same emoji (❤ is ❤️).",
    examples=[
        OpenApiExample("thumbs up", value="👍"),
        OpenApiExample("red heart", value="❤️"),
        OpenApiExample("woman technologist, medium skin tone", value="👩🏽‍💻"),
    ],
)
MESSAGE_PAGE = PolymorphicProxySerializer(
    component_name="MessagePage",
    serializers=[MessageOffsetPageSerializer, MessageWindowSerializer],
    resource_type_field_name=None,
    many=False,
)


@extend_schema_view(
    list=extend_schema(
        summary="List my threads",
        examples=[
            OpenApiExample(
                "second page",
                summary="?limit=1&offset=1: the second of alice's three threads",
                value=THREAD,
            )
        ],
    ),
    retrieve=extend_schema(
        summary="Show a thread",
        examples=[OpenApiExample("alice's thread with bob", value=THREAD)],
    ),
    destroy=extend_schema(
        summary="Delete a thread",
        description="Deletes the thread for both participants, with its messages and "
        "files; both hear a `thread.deleted` event. Example: `DELETE /api/threads/1/` "
        "answers 204, and the thread is a 404 from then on.",
    ),
)
@extend_schema(tags=["Threads"])
class ThreadViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The requester's private threads and their messages.

    Every queryset starts from the requester's own threads, so a thread they do not take
    part in is a 404 on every endpoint, exactly as if it did not exist.
    """

    serializer_class = ThreadSerializer
    lookup_value_regex = ID_PATTERN

    def get_queryset(self):
        return threads_of(self.request.user)

    def get_object(self) -> Thread:
        return thread_for(self.request.user, int(self.kwargs["pk"]))

    def list(self, request: Request) -> Response:
        """The requester's threads, most recent activity first, each with its last message
        and how many messages in it wait for the requester; paged with `limit` and
        `offset`."""
        page = self.paginator.paginate_counted(
            request, fetch=partial(thread_list_for, request.user)
        )
        return self.get_paginated_response(page)

    def retrieve(self, request: Request, pk: str) -> Response:
        """One of the requester's threads, as the list shows it."""
        return Response(thread_row_for(request.user, int(pk)))

    @extend_schema(
        summary="Start a thread",
        request=ThreadCreateSerializer,
        responses={
            201: ThreadSerializer,
            200: ThreadSerializer,
            403: rule_error("The other user has blocked the requester.", BlockedByOther),
        },
        examples=[
            OpenApiExample(
                "with the other user only", value={"participants": [2]}, request_only=True
            ),
            OpenApiExample("with both users", value={"participants": [1, 2]}, request_only=True),
            OpenApiExample(
                "a new thread (201)", value=THREAD_NEW, response_only=True, status_codes=[201]
            ),
            OpenApiExample(
                "the thread they already had (200)",
                value=THREAD,
                response_only=True,
                status_codes=[200],
            ),
        ],
    )
    def create(self, request: Request) -> Response:
        """Create the thread with another user (201), or return the one that already
        exists (200)."""
        serializer = ThreadCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        thread, created = thread_get_or_create(
            requester=request.user, other=serializer.validated_data["other"]
        )
        # ThreadNotFound if the other participant deleted it a moment ago.
        row = thread_row_for(request.user, thread.pk)
        return Response(row, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def perform_destroy(self, instance) -> None:
        thread_delete(thread=instance)

    @extend_schema(
        operation_id="threads_messages_list",
        summary="List a thread's messages",
        tags=["Messages"],
        examples=MESSAGE_PAGES,
        parameters=[
            MessageListQuerySerializer,
            OpenApiParameter(
                "limit", int, description="Messages per page (default 20, at most 100)."
            ),
            OpenApiParameter(
                "offset", int, description="Messages to skip, newest first (without a cursor)."
            ),
        ],
        responses={200: MESSAGE_PAGE, 400: validation_error("Invalid cursor or search.")},
        description=(
            "The thread's messages, newest first. Without a cursor: `limit`/`offset` pages "
            "with a total `count` and the `next` and `previous` pages' URLs. With `before`, "
            "`after` or `around` (one of them): keyset pages by message id with "
            "`has_more_before`/`has_more_after` and no count. `after` returns the oldest "
            "messages newer than the cursor (for catching up); `around=first_unread` opens "
            "where the reader left off. The examples page through a thread of five messages."
        ),
    )
    @action(
        detail=True,
        methods=["get"],
        serializer_class=MessageSerializer,
        throttle_classes=[MessagePostThrottle],
    )
    def messages(self, request: Request, pk: str | None = None) -> Response:
        """The thread's messages, newest first."""
        thread = self.get_object()
        params = MessageListQuerySerializer.parse(request.query_params)
        messages = ThreadMessages(thread, reader=request.user, search=params.get("search", ""))
        if not {"before", "after", "around"} & params.keys():
            # Without a search the count is the thread's exact counter: no COUNT(*).
            page = self.paginator.paginate_rows(
                request, count=messages.count(), fetch=messages.page
            )
            return self.get_paginated_response(page)
        window = message_window_for(
            messages,
            request.user,
            before=params.get("before"),
            after=params.get("after"),
            around=params.get("around"),
            limit=self.paginator.get_limit(request),
        )
        return Response(
            {
                "has_more_before": window.has_more_before,
                "has_more_after": window.has_more_after,
                "results": window.results,
            }
        )

    @extend_schema(
        operation_id="threads_messages_create",
        summary="Send a message",
        description="Send a message into the thread: text, files uploaded into it "
        "beforehand (`attachments`), or both. A retry with the same `client_id` answers the "
        "message already stored (200) instead of sending it twice. Both participants hear "
        "a `message.created` event.",
        tags=["Messages"],
        request=MessagePostSerializer,
        responses={
            201: MessageSerializer,
            200: OpenApiResponse(
                MessageSerializer, description="A retry: the message stored for this client_id."
            ),
            403: BLOCKED,
            409: rule_error(
                "The client_id was already used for a different message, or an attachment "
                "already belongs to another message.",
                ClientIdReused,
                AttachmentInUse,
            ),
        },
        examples=[
            OpenApiExample(
                "a message",
                value={
                    "text": "Lunch at noon?",
                    "client_id": "6f1c2e0a-8d4b-4a57-9b3e-2f7d5c1a9e84",
                },
                request_only=True,
            ),
            OpenApiExample(
                "a message with files",
                value={"text": "The plan", "attachments": [2, 3]},
                request_only=True,
            ),
            OpenApiExample("files alone", value={"attachments": [4]}, request_only=True),
            OpenApiExample("the message sent", value=MESSAGE, response_only=True),
            OpenApiExample("the message with files", value=MESSAGE_WITH_FILES, response_only=True),
        ],
    )
    @messages.mapping.post
    def messages_create(self, request: Request, pk: str | None = None) -> Response:
        """GET: the thread's messages, newest first. POST: send a message."""
        serializer = MessagePostSerializer(data=request.data)
        if not serializer.is_valid():
            self.get_object()  # a stranger gets 404 whatever they send
            serializer.is_valid(raise_exception=True)
        # The service finds the requester's thread itself (404 otherwise), in the
        # statement that stores the message.
        message, created = message_send(
            thread_id=int(pk), sender=request.user, **serializer.validated_data
        )
        return Response(
            # MessageSerializer's shape, without its machinery
            message_row_of(message, reader_id=request.user.pk),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        operation_id="threads_message_retrieve",
        summary="Show a message",
        description=ONE_MESSAGE,
        tags=["Messages"],
        examples=[OpenApiExample("alice's message", value=MESSAGE)],
    )
    @action(
        detail=True,
        methods=["get"],
        url_path=rf"messages/(?P<message_id>{ID_PATTERN})",
        serializer_class=MessageSerializer,
    )
    def message(self, request: Request, pk: str | None = None, message_id: str = "") -> Response:
        return Response(message_row_of(self._message(message_id), reader_id=request.user.pk))

    @extend_schema(
        operation_id="threads_message_edit",
        summary="Edit a message",
        description=ONE_MESSAGE,
        tags=["Messages"],
        examples=[
            OpenApiExample("new text", value={"text": "Lunch at 12:30?"}, request_only=True),
            OpenApiExample("the edited message", value=MESSAGE_EDITED, response_only=True),
        ],
        request=MessageWriteSerializer,
        responses={
            200: MessageSerializer,
            403: NOT_THE_SENDER,
            409: rule_error("The message was deleted.", MessageDeleted),
        },
    )
    @message.mapping.patch
    def message_update(
        self, request: Request, pk: str | None = None, message_id: str = ""
    ) -> Response:
        message = self._message(message_id)
        serializer = MessageWriteSerializer(data=request.data, context={"message": message})
        serializer.is_valid(raise_exception=True)
        message = message_edit(
            message=message,
            editor=request.user,
            text=serializer.validated_data.get("text"),
            attachment_ids=serializer.validated_data.get("attachments"),
        )
        return Response(message_row_of(message, reader_id=request.user.pk))

    @extend_schema(
        operation_id="threads_message_delete",
        summary="Delete a message",
        description=f"{ONE_MESSAGE}\n\nExample: `DELETE /api/threads/1/messages/1/` answers "
        "204; the message keeps its place in the history with empty `text` and a "
        "`deleted` time.",
        tags=["Messages"],
        responses={204: None, 403: NOT_THE_SENDER},
    )
    @message.mapping.delete
    def message_destroy(
        self, request: Request, pk: str | None = None, message_id: str = ""
    ) -> Response:
        message_delete(message=self._message(message_id), editor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _message(self, message_id: str) -> Message:
        # Through the thread's own manager, so the message carries the thread looked up.
        return message_in(self.get_object(), int(message_id))

    @extend_schema(
        operation_id="threads_message_reaction_add",
        summary="React to a message",
        description=REACTIONS,
        tags=["Reactions"],
        parameters=[EMOJI_PARAMETER],
        request=None,
        responses={
            201: ReactionSerializer,
            200: OpenApiResponse(
                ReactionSerializer, description="The requester had already reacted so."
            ),
            400: validation_error("Not exactly one emoji."),
            403: BLOCKED,
            409: rule_error(
                "The message was deleted, or already has "
                f"{MAX_DISTINCT_REACTIONS} different reactions.",
                MessageDeletedNoReactions,
                TooManyReactions,
            ),
        },
        examples=[OpenApiExample("bob's 👍", value=REACTION, response_only=True)],
    )
    @action(
        detail=True,
        methods=["put"],
        # The emoji and its slash are optional: `.../reactions` is answered (400, no emoji)
        # like `.../reactions/` rather than redirected by APPEND_SLASH (a 500 under DEBUG).
        # The lookbehind keeps `reactionsX` unrouted; the schema still reads `{emoji}`.
        url_path=rf"messages/(?P<message_id>{ID_PATTERN})/reactions/?(?P<emoji>(?<=/)[^/]+)?",
        url_name="message-reaction",
    )
    def reaction(
        self, request: Request, pk: str | None = None, message_id: str = "", emoji: str = ""
    ) -> Response:
        row, created = reaction_add(
            thread_id=int(pk),
            message_id=int(message_id),
            user=request.user,
            emoji=self._reaction_emoji(emoji),
        )
        return Response(row, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        operation_id="threads_message_reaction_remove",
        summary="Take a reaction back",
        description=f"{REACTIONS}\n\nExample: `DELETE "
        "/api/threads/1/messages/1/reactions/%F0%9F%91%8D/` takes the requester's 👍 back: 204.",
        tags=["Reactions"],
        parameters=[EMOJI_PARAMETER],
        responses={204: None, 400: validation_error("Not exactly one emoji.")},
    )
    @reaction.mapping.delete
    def reaction_destroy(
        self, request: Request, pk: str | None = None, message_id: str = "", emoji: str = ""
    ) -> Response:
        reaction_remove(
            thread_id=int(pk),
            message_id=int(message_id),
            user=request.user,
            emoji=self._reaction_emoji(emoji),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _reaction_emoji(self, emoji: str) -> str:
        """The path's emoji as stored, or 400 with a field error (404 for a stranger, who
        learns nothing of the thread whatever they send). The services find the
        requester's thread and message themselves."""
        serializer = ReactionEmojiSerializer(data={"emoji": emoji})
        if not serializer.is_valid():
            self.get_object()
            serializer.is_valid(raise_exception=True)
        return serializer.validated_data["emoji"]

    @extend_schema(
        operation_id="threads_attachments_create",
        summary="Upload a file",
        tags=["Attachments"],
        examples=[OpenApiExample("a photo", value=ATTACHMENT_PHOTO, response_only=True)],
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={
            201: AttachmentSerializer,
            400: validation_error(
                "No file, an empty one, or an image with too many pixels or frames to decode "
                "safely."
            ),
            403: rule_error("The other participant has blocked the requester.", BlockedInThread),
            413: error(
                "The file is larger than ATTACHMENT_MAX_BYTES.",
                FileTooLarge.code,
                "The file is too large: at most 10485760 bytes.",
            ),
            415: error(
                "The body is not multipart/form-data.",
                "unsupported_media_type",
                'Unsupported media type "application/json" in request.',
            ),
        },
        description=(
            "Upload a file into the thread (multipart/form-data, the file in the field "
            "`file`), to send it with a message: `attachments: [<id>]` in POST or PATCH "
            ".../messages. Its type is detected from its bytes; images are re-encoded "
            "without their metadata (EXIF, GPS) and get a thumbnail. Uploads no message "
            "claims are removed after a day."
        ),
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="attachments",
        parser_classes=[MultiPartParser],
    )
    def attachments(self, request: Request, pk: str | None = None) -> Response:
        """Upload a file into the thread."""
        thread = self.get_object()  # a stranger gets 404 before the body is parsed
        # Counted as it streams in: past the limit the upload stops with 413.
        limit_uploads(request._request, limit=settings.ATTACHMENT_MAX_BYTES)
        serializer = AttachmentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attachment = attachment_upload(
            thread_id=thread.pk, uploader=request.user, upload=serializer.validated_data["file"]
        )
        return Response(attachment_row_of(attachment), status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="threads_mark_read",
        summary="Mark a thread read",
        request=MarkReadSerializer,
        responses={200: MarkReadResultSerializer},
        examples=[
            OpenApiExample("everything", value={}, request_only=True),
            OpenApiExample("up to what the reader saw", value={"up_to": 3}, request_only=True),
            OpenApiExample("two became read", value={"marked": 2}, response_only=True),
        ],
    )
    @action(detail=True, methods=["patch"])
    def mark_read(self, request: Request, pk: str | None = None) -> Response:
        """Mark read the messages the requester received in this thread: all of them, or
        those up to `up_to`."""
        thread = self.get_object()
        serializer = MarkReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        marked = thread_mark_read(
            thread=thread,
            reader=request.user,
            up_to=serializer.validated_data.get("up_to"),
            reader_unread_count=thread.reader_unread_count,
        )
        return Response({"marked": marked})

    @extend_schema(
        operation_id="threads_unread_count",
        summary="Count a thread's unread messages",
        responses={200: UnreadCountSerializer},
        examples=[OpenApiExample("four", value={"unread_count": 4})],
    )
    @action(detail=True, methods=["get"])
    def unread_count(self, request: Request, pk: str | None = None) -> Response:
        """How many messages in this thread wait for the requester."""
        # The reader's exact counter, read with the thread itself (see `thread_for`).
        return Response({"unread_count": self.get_object().reader_unread_count})

    @extend_schema(
        operation_id="threads_unread_total",
        summary="Count all my unread messages",
        responses={200: UnreadCountSerializer},
        examples=[OpenApiExample("four", value={"unread_count": 4})],
    )
    @action(detail=False, methods=["get"], url_path="unread_count", url_name="unread-total")
    def unread_total(self, request: Request) -> Response:
        """How many messages wait for the requester across all their threads."""
        return Response({"unread_count": unread_total_for(request.user)})


@extend_schema_view(
    list=extend_schema(
        summary="Search my messages",
        description="Messages across all the requester's threads, newest first; `?search=` "
        "finds text in them (case-insensitive; deleted messages are not found). Paged with "
        "`limit` and `offset`.",
        tags=["Messages"],
        examples=[
            OpenApiExample(
                "second page",
                summary="?limit=1&offset=1: the second of three messages",
                value=MESSAGE_WITH_FILES,
            )
        ],
        parameters=[
            OpenApiParameter(
                "search", str, description="Text to find in messages; at most 200 characters."
            )
        ],
        responses={200: MessageSerializer(many=True), 400: validation_error("Invalid search.")},
    )
)
class MessageSearchViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Messages across all the requester's threads, newest first; `?search=` filters by text."""

    serializer_class = MessageSerializer
    queryset = Message.objects.none()  # for the schema: the rows come from UserMessages

    def list(self, request: Request) -> Response:
        query = SearchQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        messages = UserMessages(request.user, search=query.validated_data.get("search", ""))
        return self.get_paginated_response(self.paginate_queryset(messages))


# Query parameters of a signed link (`threads.files.link`).
LINK_PARAMETERS = [
    OpenApiParameter(
        "expires",
        int,
        description="From the signed `url`/`thumbnail_url`: when the link expires (Unix time).",
    ),
    OpenApiParameter(
        "signature", str, description="From the signed `url`/`thumbnail_url`: its signature."
    ),
    OpenApiParameter(
        "Range",
        str,
        OpenApiParameter.HEADER,
        description="One byte range, `bytes=first-last`, `bytes=first-` or `bytes=-suffix` "
        "(206); anything else is answered with the whole file.",
    ),
    OpenApiParameter(
        "If-Range",
        str,
        OpenApiParameter.HEADER,
        description="The ETag or Last-Modified of the copy the range completes.",
    ),
    OpenApiParameter(
        "If-None-Match", str, OpenApiParameter.HEADER, description="An ETag held (304)."
    ),
    OpenApiParameter(
        "If-Modified-Since",
        str,
        OpenApiParameter.HEADER,
        description="The Last-Modified held (304).",
    ),
]
FILE_RESPONSES = {
    (200, "*/*"): OpenApiResponse(
        OpenApiTypes.BINARY,
        description="The bytes, with their detected Content-Type, Content-Disposition "
        "(inline for images, attachment for anything else), ETag and Last-Modified.",
    ),
    (206, "*/*"): OpenApiResponse(
        OpenApiTypes.BINARY, description="The byte range asked for with `Range: bytes=...`."
    ),
    302: OpenApiResponse(
        description="With object storage: a redirect (Location) to a URL of the storage, "
        "signed for a minute, that answers the bytes with the same headers."
    ),
    304: OpenApiResponse(description="Not modified (If-None-Match / If-Modified-Since)."),
    401: UNAUTHENTICATED,
    403: rule_error("The signed link has expired or is not valid.", LinkInvalid),
    416: error(
        "The range starts past the end of the file.",
        "range_not_satisfiable",
        "The range is outside the file (1024 bytes).",
    ),
}
DOWNLOAD = (
    "Answered to the thread's participants (404 for anyone else, as for threads; an "
    "upload not sent with a message yet, to its uploader only), "
    "authenticated by the bearer token, or without one by the `expires` and `signature` "
    "of the signed link in `url` / `thumbnail_url` (for browsers: an `<img>` sends no token). "
    "Conditional requests (If-None-Match, If-Modified-Since: 304) and one byte range "
    "(Range: 206; past the end: 416) are answered; with object storage the answer is a "
    "redirect to the storage instead."
)


@extend_schema(tags=["Attachments"])
class AttachmentViewSet(viewsets.ViewSet):
    """The files of attachments, for the participants of their thread."""

    lookup_value_regex = ID_PATTERN
    # A signed link stands in for the token; without one, `_attachment` asks for it.
    permission_classes = [AllowAny]
    # Browsers ask for images (`Accept: image/*`); the errors are JSON all the same.
    content_negotiation_class = AnyAccept

    @extend_schema(
        operation_id="attachments_retrieve",
        summary="Download a file",
        parameters=LINK_PARAMETERS,
        responses=FILE_RESPONSES,
        description=f"The attachment's file. {DOWNLOAD}\n\nExample: `GET "
        "/api/attachments/3?expires=1796187600&signature=XU9sqqnLX6sP6X2Y4qegZdEoG3iwsmE11ueNve"
        "CCrpQ` (its `url`, no token needed) answers 200 with the 25 bytes of agenda.txt, "
        "`Content-Type: text/plain; charset=utf-8`, `Content-Disposition: attachment; "
        'filename="agenda.txt"`, `ETag: "c1349f39892187ddc85b80990d259cbe"`.',
    )
    def retrieve(self, request: Request, pk: str) -> HttpResponse:
        attachment = self._attachment(request, int(pk), files.ORIGINAL)
        return self._file(request, attachment, attachment.file, thumbnail=False)

    @extend_schema(
        operation_id="attachments_thumbnail",
        summary="Download an image's thumbnail",
        parameters=LINK_PARAMETERS,
        responses=FILE_RESPONSES,
        description=f"An image attachment's thumbnail (WebP, at most 320 pixels a side; "
        f"404 for other files). {DOWNLOAD}\n\nExample: `GET /api/attachments/2/thumbnail` "
        "with a bearer token answers 200, `Content-Type: image/webp`, `Content-Disposition: "
        'inline; filename="photo.thumbnail.webp"`.',
    )
    @action(detail=True, methods=["get"])
    def thumbnail(self, request: Request, pk: str) -> HttpResponse:
        attachment = self._attachment(request, int(pk), files.THUMBNAIL)
        if not attachment.thumbnail:
            raise ThumbnailNotFound
        return self._file(request, attachment, attachment.thumbnail, thumbnail=True)

    def _attachment(self, request: Request, attachment_id: int, kind: str) -> Attachment:
        # A bearer token decides when there is one (a link it carries along is ignored);
        # without one, the signed link does.
        if request.user.is_authenticated:
            return attachment_for(request.user, attachment_id)
        params = request.query_params
        if "signature" not in params and "expires" not in params:
            raise NotAuthenticated
        expires, signature = params.get("expires", ""), params.get("signature", "")
        if not files.link_is_valid(attachment_id, kind, expires, signature):
            raise LinkInvalid
        return attachment_by_link(attachment_id)

    def _file(
        self, request: Request, attachment: Attachment, name: str, *, thumbnail: bool
    ) -> HttpResponse:
        content_type = files.THUMBNAIL_TYPE if thumbnail else attachment.content_type
        filename = attachment.name
        if thumbnail:
            filename = f"{filename.rsplit('.', 1)[0]}.thumbnail.webp"
        inline = files.is_inline(content_type)
        if files.redirects():
            url = files.storage_url(
                name, content_type=content_type, filename=filename, inline=inline
            )
            answer = HttpResponseRedirect(url)
            answer["Cache-Control"] = "private, no-store"
            return answer
        etag = f'"{attachment.sha256[:32]}{"-thumbnail" if thumbnail else ""}"'
        try:
            size = default_storage.size(name) if thumbnail else attachment.size
            return file_response(
                request,
                StoredFile(
                    open=lambda: default_storage.open(name, "rb"),
                    size=size,
                    content_type=files.served_type(content_type),
                    filename=filename,
                    inline=inline,
                    etag=etag,
                    last_modified=attachment.created,
                    max_age=settings.ATTACHMENT_URL_SECONDS,
                ),
            )
        except FileNotFoundError:  # removed from the storage behind the database's back
            raise AttachmentNotFound from None


SYNC = (
    "What changed for the requester since cursor `since`, oldest first: every event the "
    "WebSocket sent them or would have sent (messages created, updated and deleted, threads "
    "created and deleted, read receipts, reactions), in the same shape, each with its "
    "`cursor`; a message's changes carry the message as it is now (`data` null once it is "
    "gone for good). A client keeps the newest cursor it has seen (from an event or from here) "
    "and, after being away, syncs from it until `has_more` is false; it misses nothing and "
    "gets nothing twice. Without `since`: no changes and the current cursor, where a "
    "client that has just loaded everything starts. A cursor older than the log keeps "
    "(SYNC_RETENTION_DAYS) answers 410 `resync_required`: load everything again."
)


@extend_schema(tags=["Sync"])
class SyncView(APIView):
    """The requester's change log (threads/events.py)."""

    @extend_schema(
        operation_id="sync",
        summary="Catch up on changes",
        description=SYNC,
        examples=SYNC_CHANGES,
        parameters=[SyncQuerySerializer],
        responses={
            200: SyncSerializer,
            400: validation_error("`since` or `limit` is not valid."),
            401: UNAUTHENTICATED,
            410: rule_error("The changes since `since` are no longer kept.", ResyncRequired),
        },
    )
    def get(self, request: Request) -> Response:
        query = SyncQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = changes_for(
            request.user,
            since=query.validated_data.get("since"),
            limit=query.validated_data["limit"],
        )
        return Response({"changes": page.changes, "cursor": page.cursor, "has_more": page.has_more})
