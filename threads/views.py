from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from threads.selectors import message_list_for, thread_list_for, threads_of, unread_messages_for
from threads.serializers import MessageSerializer, ThreadCreateSerializer, ThreadSerializer
from threads.services import message_send, thread_delete, thread_get_or_create, thread_mark_read


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
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if self.action in ("list", "retrieve"):
            return thread_list_for(self.request.user)
        # Writes and sub-resources need only the scoped thread, not the list annotations.
        return threads_of(self.request.user)

    def create(self, request: Request) -> Response:
        """Create the thread with another user, or return the one that already exists."""
        serializer = ThreadCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        thread, created = thread_get_or_create(
            requester=request.user, other=serializer.validated_data["other"]
        )
        row = thread_list_for(request.user).get(pk=thread.pk)
        return Response(
            ThreadSerializer(row).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def perform_destroy(self, instance) -> None:
        thread_delete(thread=instance)

    @action(detail=True, methods=["get", "post"], serializer_class=MessageSerializer)
    def messages(self, request: Request, pk: str | None = None) -> Response:
        """GET: the thread's messages, newest first, paginated. POST: send a message."""
        thread = self.get_object()
        if request.method == "POST":
            serializer = MessageSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            message = message_send(
                thread=thread, sender=request.user, text=serializer.validated_data["text"]
            )
            return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)
        page = self.paginate_queryset(message_list_for(thread))
        return self.get_paginated_response(MessageSerializer(page, many=True).data)

    @action(detail=True, methods=["patch"])
    def mark_read(self, request: Request, pk: str | None = None) -> Response:
        """Mark read every message in the thread that the requester received."""
        marked = thread_mark_read(thread=self.get_object(), reader=request.user)
        return Response({"marked": marked})

    @action(detail=True, methods=["get"])
    def unread_count(self, request: Request, pk: str | None = None) -> Response:
        """How many messages in this thread wait for the requester."""
        thread = self.get_object()
        count = unread_messages_for(request.user).filter(thread=thread).count()
        return Response({"unread_count": count})

    @action(detail=False, methods=["get"], url_path="unread_count", url_name="unread-total")
    def unread_total(self, request: Request) -> Response:
        """How many messages wait for the requester across all their threads."""
        return Response({"unread_count": unread_messages_for(request.user).count()})
