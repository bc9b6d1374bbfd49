"""Moderation. Moderators read threads and messages and delete what must go; they do not
write as users, so adding and editing are off (every write goes through the services).

Built for large tables: list pages show the threads' kept message counts, a
thread's page shows only its latest messages inline, and the delete confirmation of a
thread summarises its messages instead of listing every one. A message's page lists its
reactions (at most 20 emoji, two people each).
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from threads import files
from threads.models import Attachment, Message, Reaction, Thread
from threads.services import message_purge, thread_delete

# How many of a thread's newest messages its admin page shows inline.
INLINE_MESSAGES = 50


class ReadOnlyDeleteOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class MessageInline(ReadOnlyDeleteOnlyMixin, admin.TabularInline):
    """The thread's latest messages, read-only: deletions go through the message list,
    which keeps the counters exact."""

    model = Message
    fields = ["sender", "text", "created", "is_read", "deleted"]
    readonly_fields = fields
    ordering = ["-id"]
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = f"latest messages (up to {INLINE_MESSAGES})"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        messages = super().get_queryset(request).select_related("sender")
        thread_id = request.resolver_match.kwargs.get("object_id", "")
        if not str(thread_id).isdigit():
            return messages
        # The inline formset filters by thread itself and cannot take a sliced queryset, so
        # the limit is an id subquery.
        newest = Message.objects.filter(thread_id=thread_id).order_by("-id").values("id")
        return messages.filter(pk__in=newest[:INLINE_MESSAGES])


class ReactionInline(ReadOnlyDeleteOnlyMixin, admin.TabularInline):
    """Who reacted to the message with what, first use first. Read-only: reactions are the
    participants' to add and take back (through the services, which tell both of them)."""

    model = Reaction
    fields = ["emoji", "user", "created"]
    readonly_fields = fields
    ordering = ["id"]
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Reaction]:
        return super().get_queryset(request).select_related("user")


@admin.register(Thread)
class ThreadAdmin(ReadOnlyDeleteOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "participant_names", "created", "updated", "message_count"]
    list_filter = ["updated"]
    search_fields = ["participants__username"]
    readonly_fields = ["participant_names", "created", "updated", "message_count", "all_messages"]
    fields = readonly_fields
    inlines = [MessageInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Thread]:
        return super().get_queryset(request).prefetch_related("participants")

    @admin.display(description="participants")
    def participant_names(self, thread: Thread) -> str:
        return ", ".join(sorted(user.username for user in thread.participants.all()))

    @admin.display(description="all messages")
    def all_messages(self, thread: Thread) -> str:
        url = reverse("admin:threads_message_changelist") + f"?thread__id__exact={thread.pk}"
        return format_html(
            '<a href="{}">Search and filter all {} messages</a>', url, thread.message_count
        )

    def delete_model(self, request: HttpRequest, obj: Thread) -> None:
        thread_delete(thread=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Thread]) -> None:
        for thread in queryset:
            thread_delete(thread=thread)

    def get_deleted_objects(self, objs, request: HttpRequest):
        """Summarise instead of listing every message of the threads being deleted."""
        threads = list(objs)
        messages = Message.objects.filter(thread__in=threads).count()
        summary = [f"{thread} and its messages" for thread in threads]
        counts = {"threads": len(threads), "messages": messages}
        missing = set()
        if messages and not request.user.has_perm("threads.delete_message"):
            missing.add(Message._meta.verbose_name)
        return summary, counts, missing, []


def _file_link(attachment: Attachment) -> str:
    # A signed link (threads.files.link): the moderator's session is not an API token.
    return format_html('<a href="{}">{}</a>', files.link(attachment.pk), attachment.name)


class AttachmentInline(ReadOnlyDeleteOnlyMixin, admin.TabularInline):
    """The message's files: names (opening the file), types and sizes."""

    model = Attachment
    fields = ["file_link", "content_type", "size", "width", "height", "created"]
    readonly_fields = fields
    ordering = ["position", "id"]
    extra = 0
    can_delete = False
    show_change_link = True

    @admin.display(description="file")
    def file_link(self, attachment: Attachment) -> str:
        return _file_link(attachment)


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyDeleteOnlyMixin, admin.ModelAdmin):
    """Every uploaded file, read-only. Files go with their message or thread (deleting
    those removes them), and unused uploads with `manage.py attachments_prune`."""

    list_display = [
        "id",
        "name",
        "content_type",
        "size",
        "uploader",
        "thread",
        "message",
        "created",
    ]
    list_filter = ["content_type", "created"]
    search_fields = ["name", "uploader__username"]
    list_select_related = ["uploader"]
    readonly_fields = [
        "file_link",
        "thread",
        "message",
        "uploader",
        "content_type",
        "size",
        "width",
        "height",
        "sha256",
        "created",
    ]
    fields = readonly_fields
    show_full_result_count = False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="file")
    def file_link(self, attachment: Attachment) -> str:
        return _file_link(attachment)


@admin.register(Message)
class MessageAdmin(ReadOnlyDeleteOnlyMixin, admin.ModelAdmin):
    """Deleting here removes a message for good (a moderator's purge), through the service
    that keeps the thread's counters and the recipient's unread count exact."""

    list_display = [
        "id",
        "sender",
        "thread",
        "text_preview",
        "attachment_count",
        "created",
        "is_read",
        "deleted",
    ]
    list_filter = ["is_read", "created"]
    search_fields = ["sender__username", "text"]
    list_select_related = ["sender", "thread"]
    readonly_fields = ["thread", "sender", "text", "created", "is_read", "edited", "deleted"]
    fields = readonly_fields
    inlines = [AttachmentInline, ReactionInline]
    show_full_result_count = False  # a COUNT(*) of the whole table on every page is costly

    def delete_model(self, request: HttpRequest, obj: Message) -> None:
        message_purge(message=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        for message in queryset:
            message_purge(message=message)

    @admin.display(description="text")
    def text_preview(self, message: Message) -> str:
        # Plain text, escaped by the admin like any other value: never rendered as HTML.
        return Truncator(message.text).chars(80)
