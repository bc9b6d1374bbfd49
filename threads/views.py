from functools import partial

from django.shortcuts import get_object_or_404
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
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from chat_project.routers import ID_PATTERN
from chat_project.schema import error, validation_error
from chat_project.throttling import MessagePostThrottle
from threads.models import Thread
from threads.selectors import (
    ThreadMessages,
    message_row,
    message_row_of,
    message_search_for,
    message_window_for,
    thread_for,
    thread_page_for,
    thread_row_for,
    threads_of,
    unread_total_for,
)
from threads.serializers import (
    MarkReadResultSerializer,
    MarkReadSerializer,
    MessageListQuerySerializer,
    MessageOffsetPageSerializer,
    MessagePostSerializer,
    MessageSerializer,
    MessageWindowSerializer,
    MessageWriteSerializer,
    ThreadCreateSerializer,
    ThreadSerializer,
    UnreadCountSerializer,
)
from threads.services import (
    BLOCKED_IN_THREAD,
    THREAD_NOT_FOUND,
    ClientIdReused,
    MessageDeleted,
    message_delete,
    message_edit,
    message_send,
    thread_delete,
    thread_get_or_create,
    thread_mark_read,
)
from users.serializers import SearchQuerySerializer


class MessageDeletedConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This message was deleted and can no longer be edited."
    default_code = "message_deleted"


class ClientIdConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This client_id was already used for a different message."
    default_code = "client_id_reused"


BLOCKED = error(
    "The other participant has blocked the requester.", "permission_denied", BLOCKED_IN_THREAD
)
NOT_THE_SENDER = error(
    "Only the sender may change a message.",
    "permission_denied",
    "You can only change your own messages.",
)
MESSAGE_PAGE = PolymorphicProxySerializer(
    component_name="MessagePage",
    serializers=[MessageOffsetPageSerializer, MessageWindowSerializer],
    resource_type_field_name=None,
    many=False,
)


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
        thread = thread_for(self.request.user, int(self.kwargs["pk"]))
        if thread is None:
            raise NotFound(THREAD_NOT_FOUND)
        return thread

    def list(self, request: Request) -> Response:
        """The requester's threads, most recent activity first."""
        page = self.paginator.paginate_rows(
            request,
            count=request.user.thread_count,
            fetch=partial(thread_page_for, request.user),
        )
        return self.get_paginated_response(page)

    def retrieve(self, request: Request, pk: str) -> Response:
        """One of the requester's threads, as the list shows it."""
        row = thread_row_for(request.user, int(pk))
        if row is None:
            raise NotFound(THREAD_NOT_FOUND)
        return Response(row)

    @extend_schema(
        request=ThreadCreateSerializer,
        responses={
            201: ThreadSerializer,
            200: ThreadSerializer,
            403: error(
                "The other user has blocked the requester.",
                "permission_denied",
                "You cannot start a thread with this user: they have blocked you.",
            ),
        },
        examples=[
            OpenApiExample(
                "with the other user only", value={"participants": [2]}, request_only=True
            ),
            OpenApiExample("with both users", value={"participants": [1, 2]}, request_only=True),
        ],
    )
    def create(self, request: Request) -> Response:
        """Create the thread with another user, or return the one that already exists."""
        serializer = ThreadCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        thread, created = thread_get_or_create(
            requester=request.user, other=serializer.validated_data["other"]
        )
        row = thread_row_for(request.user, thread.pk)
        if row is None:  # the other participant deleted it a moment ago
            raise NotFound(THREAD_NOT_FOUND)
        return Response(row, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    def perform_destroy(self, instance) -> None:
        thread_delete(thread=instance)

    @extend_schema(
        methods=["GET"],
        operation_id="threads_messages_list",
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
            "with a total `count`. With `before`, `after` or `around` (one of them): keyset "
            "pages by message id with `has_more_before`/`has_more_after` and no count. "
            "`after` returns the oldest messages newer than the cursor (for catching up); "
            "`around=first_unread` opens where the reader left off."
        ),
    )
    @extend_schema(
        methods=["POST"],
        operation_id="threads_messages_create",
        request=MessagePostSerializer,
        responses={
            201: MessageSerializer,
            200: OpenApiResponse(
                MessageSerializer, description="A retry: the message stored for this client_id."
            ),
            403: BLOCKED,
            409: error(
                "The client_id was already used for a different text.",
                "client_id_reused",
                "This client_id was already used for a different message.",
            ),
        },
        examples=[OpenApiExample("a message", value={"text": "Lorem ipsum"}, request_only=True)],
    )
    @action(
        detail=True,
        methods=["get", "post"],
        serializer_class=MessageSerializer,
        throttle_classes=[MessagePostThrottle],
    )
    def messages(self, request: Request, pk: str | None = None) -> Response:
        """GET: the thread's messages, newest first. POST: send a message."""
        if request.method == "POST":
            serializer = MessagePostSerializer(data=request.data)
            if not serializer.is_valid():
                self.get_object()  # a stranger gets 404 whatever they send
                raise ValidationError(serializer.errors)
            # The service finds the requester's thread itself (404 otherwise), in the
            # statement that stores the message.
            try:
                message, created = message_send(
                    thread_id=int(pk), sender=request.user, **serializer.validated_data
                )
            except ClientIdReused:
                raise ClientIdConflict from None
            return Response(
                message_row_of(message),  # MessageSerializer's shape, without its machinery
                status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
            )

        thread = self.get_object()
        query = MessageListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        messages = ThreadMessages(thread, search=params.get("search", ""))
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

    @extend_schema(methods=["GET"], operation_id="threads_message_retrieve")
    @extend_schema(
        methods=["PATCH"],
        operation_id="threads_message_edit",
        request=MessageWriteSerializer,
        responses={
            200: MessageSerializer,
            403: NOT_THE_SENDER,
            409: error(
                "The message was deleted.",
                "message_deleted",
                "This message was deleted and can no longer be edited.",
            ),
        },
    )
    @extend_schema(
        methods=["DELETE"],
        operation_id="threads_message_delete",
        responses={204: None, 403: NOT_THE_SENDER},
    )
    @action(
        detail=True,
        methods=["get", "patch", "delete"],
        url_path=rf"messages/(?P<message_id>{ID_PATTERN})",
        serializer_class=MessageSerializer,
    )
    def message(self, request: Request, pk: str | None = None, message_id: str = "") -> Response:
        """One message. Its sender may edit its text (PATCH) or delete it (DELETE); the
        other participant may only read it (403 otherwise)."""
        # Through the thread's own manager, so the message carries the thread looked up.
        messages = self.get_object().messages.select_related("sender")
        message = get_object_or_404(messages, pk=message_id)
        if request.method == "PATCH":
            serializer = MessageWriteSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            try:
                message = message_edit(
                    message=message, editor=request.user, text=serializer.validated_data["text"]
                )
            except MessageDeleted:
                raise MessageDeletedConflict from None
        elif request.method == "DELETE":
            message_delete(message=message, editor=request.user)
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(MessageSerializer(message).data)

    @extend_schema(
        operation_id="threads_mark_read",
        request=MarkReadSerializer,
        responses={200: MarkReadResultSerializer},
        examples=[
            OpenApiExample("everything", value={}, request_only=True),
            OpenApiExample("up to what the reader saw", value={"up_to": 42}, request_only=True),
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

    @extend_schema(operation_id="threads_unread_count", responses={200: UnreadCountSerializer})
    @action(detail=True, methods=["get"])
    def unread_count(self, request: Request, pk: str | None = None) -> Response:
        """How many messages in this thread wait for the requester."""
        # The reader's exact counter, read with the thread itself (see `thread_for`).
        return Response({"unread_count": self.get_object().reader_unread_count})

    @extend_schema(operation_id="threads_unread_total", responses={200: UnreadCountSerializer})
    @action(detail=False, methods=["get"], url_path="unread_count", url_name="unread-total")
    def unread_total(self, request: Request) -> Response:
        """How many messages wait for the requester across all their threads."""
        return Response({"unread_count": unread_total_for(request.user)})


@extend_schema_view(
    list=extend_schema(
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

    def get_queryset(self):
        query = SearchQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return message_search_for(self.request.user, search=query.validated_data.get("search", ""))

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([message_row(row) for row in page])
