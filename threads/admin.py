"""Moderation. Moderators read threads and messages and delete what must go; they do not
write as users, so adding and editing are off (every write goes through the services)."""

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator

from threads.models import Message, Thread


class ReadOnlyDeleteOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class MessageInline(ReadOnlyDeleteOnlyMixin, admin.TabularInline):
    model = Message
    fields = ["sender", "text", "created", "is_read"]
    readonly_fields = fields
    ordering = ["-id"]
    extra = 0
    show_change_link = True


@admin.register(Thread)
class ThreadAdmin(ReadOnlyDeleteOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "participant_names", "created", "updated", "message_count"]
    list_filter = ["updated"]
    search_fields = ["participants__username"]
    readonly_fields = ["participant_names", "created", "updated", "message_count"]
    fields = readonly_fields
    inlines = [MessageInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Thread]:
        return (
            super()
            .get_queryset(request)
            .annotate(message_count=Count("messages", distinct=True))
            .prefetch_related("participants")
        )

    @admin.display(description="participants")
    def participant_names(self, thread: Thread) -> str:
        return ", ".join(sorted(user.username for user in thread.participants.all()))

    @admin.display(description="messages", ordering="message_count")
    def message_count(self, thread: Thread) -> int:
        return thread.message_count


@admin.register(Message)
class MessageAdmin(ReadOnlyDeleteOnlyMixin, admin.ModelAdmin):
    list_display = ["id", "sender", "thread", "text_preview", "created", "is_read"]
    list_filter = ["is_read", "created"]
    search_fields = ["sender__username", "text"]
    list_select_related = ["sender", "thread"]
    readonly_fields = ["thread", "sender", "text", "created", "is_read"]
    fields = readonly_fields
    date_hierarchy = "created"

    @admin.display(description="text")
    def text_preview(self, message: Message) -> str:
        # Plain text, escaped by the admin like any other value: never rendered as HTML.
        return Truncator(message.text).chars(80)
