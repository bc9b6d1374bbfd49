"""Moderation. Moderators read threads and messages and delete what must go; they do not
write as users, so adding and editing are off (every write goes through the services).

Built for large tables: list pages show the threads' kept message counts, the message
list is counted from them where it can be (`MessageChangeList`), a thread's page shows
only its latest messages inline, and the delete confirmation of a thread summarises its
messages instead of listing every one. A message's page lists its reactions (at most 20
emoji, two people each).

Rows are named as people know them (models' __str__: "alice & bob", "alice: See you at
8…", a file's name). Every deletion, single or bulk, is in the admin's log (LogEntry,
written by Django's delete view and delete action, `ModelAdmin.log_deletions`) in the
transaction that deletes.
"""

from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from chat_project.admin import AddressFiltersMixin, AtomicActionsMixin
from threads import files
from threads.models import Attachment, Message, Reaction, Thread
from threads.selectors import message_total, thread_message_count
from threads.services import attachments_purge, messages_purge, thread_delete, threads_delete

# How many of a thread's newest messages its admin page shows inline.
INLINE_MESSAGES = 50


class ReadOnlyDeleteOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ModerationMixin(AtomicActionsMixin, AddressFiltersMixin, ReadOnlyDeleteOnlyMixin):
    """What every moderated list shares: after a delete the moderator is back on the list
    they came from, with its search and filters (Django sends whoever may not *change*
    the model to the admin's index); and an action (the bulk delete) writes its log
    entries and makes its change in one transaction (`AtomicActionsMixin`)."""

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id) -> HttpResponse:
        response = super().response_delete(request, obj_display, obj_id)
        if isinstance(response, HttpResponseRedirect) and self.has_view_permission(request):
            changelist = reverse(
                f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist",
                current_app=self.admin_site.name,
            )
            context = {"preserved_filters": self.get_preserved_filters(request), "opts": self.opts}
            response["Location"] = add_preserved_filters(context, changelist)
        return response


def change_link(obj, text: str, **list_filters) -> str:
    """A link to `obj`'s admin page that remembers the list to come back to: its model's
    list filtered by `list_filters` (the admin's `_changelist_filters`, kept by the page's
    breadcrumbs, its Delete link and the redirect after a delete)."""
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    url += "?" + urlencode({"_changelist_filters": urlencode(list_filters)})
    return format_html('<a href="{}">{}</a>', url, text)


class MessageInline(ReadOnlyDeleteOnlyMixin, admin.TabularInline):
    """The thread's latest messages, read-only: deletions go through the message list,
    which keeps the counters exact. Each row's link opens the message with the thread's
    messages as its list, where a delete comes back to."""

    model = Message
    fields = ["sender", "content", "created", "is_read", "deleted", "page"]
    readonly_fields = fields
    ordering = ["-id"]
    extra = 0
    can_delete = False
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

    @admin.display(description="text")
    def content(self, message: Message) -> str:
        return message.content_label

    @admin.display(description="")
    def page(self, message: Message) -> str:
        return change_link(message, "View", thread__id__exact=message.thread_id)


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
class ThreadAdmin(ModerationMixin, admin.ModelAdmin):
    list_display = ["participant_names", "created", "updated", "message_count", "id"]
    list_filter = ["updated"]
    search_fields = ["participants__username"]
    readonly_fields = ["participant_names", "created", "updated", "message_count", "all_messages"]
    fields = readonly_fields
    inlines = [MessageInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Thread]:
        return super().get_queryset(request).prefetch_related("participants")

    @admin.display(description="participants")
    def participant_names(self, thread: Thread) -> str:
        return str(thread)

    @admin.display(description="all messages")
    def all_messages(self, thread: Thread) -> str:
        url = reverse("admin:threads_message_changelist") + f"?thread__id__exact={thread.pk}"
        return format_html(
            '<a href="{}">Search and filter all {} messages</a>', url, thread.message_count
        )

    def delete_model(self, request: HttpRequest, obj: Thread) -> None:
        thread_delete(thread=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Thread]) -> None:
        threads_delete(threads=queryset)

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
    """The message's files: names (opening the file), types and sizes, and a link to each
    file's page (where it can be deleted, coming back to the message's files)."""

    model = Attachment
    fields = ["file_link", "content_type", "size", "width", "height", "created", "page"]
    readonly_fields = fields
    ordering = ["position", "id"]
    extra = 0
    can_delete = False

    @admin.display(description="file")
    def file_link(self, attachment: Attachment) -> str:
        return _file_link(attachment)

    @admin.display(description="")
    def page(self, attachment: Attachment) -> str:
        return change_link(attachment, "View", message__id__exact=attachment.message_id)


@admin.register(Attachment)
class AttachmentAdmin(ModerationMixin, admin.ModelAdmin):
    """Every uploaded file, read-only. Deleting one here takes it off its message
    (`attachments_purge`); files also go with their message or thread, and unused uploads
    with `manage.py attachments_prune`."""

    list_display = [
        "name",
        "content_type",
        "size",
        "uploader",
        "thread",
        "message",
        "created",
        "id",
    ]
    list_filter = ["content_type", "created"]
    search_fields = ["name", "uploader__username"]
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[Attachment]:
        attachments = super().get_queryset(request)
        attachments = attachments.select_related("uploader", "thread", "message__sender")
        return attachments.prefetch_related("thread__participants")

    @admin.display(description="file")
    def file_link(self, attachment: Attachment) -> str:
        return _file_link(attachment)

    def delete_model(self, request: HttpRequest, obj: Attachment) -> None:
        attachments_purge(attachments=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Attachment]) -> None:
        attachments_purge(attachments=queryset)


class MessageChangeList(ChangeList):
    """The message list's counts, exact without counting the whole table: the paginator
    takes the total from the threads' kept counts (`MessageAdmin.get_paginator`), and a
    search or filter shows "N results (M total)" with that total, where Django would show
    "(Show all)" (it shows that when told not to count the table, even on the unfiltered
    list, as a link back to the same page)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        self.show_full_result_count = True
        if not self.queryset.query.where:
            self.full_result_count = self.result_count
        else:
            self.full_result_count = message_total()


@admin.register(Message)
class MessageAdmin(ModerationMixin, admin.ModelAdmin):
    """Deleting here removes a message for good (a moderator's purge), through the service
    that keeps the thread's counters and the recipient's unread count exact. A message
    its sender deleted reads "deleted (when)": its text went with it."""

    list_display = [
        "text_preview",
        "sender",
        "thread",
        "attachment_count",
        "created",
        "is_read",
        "deleted",
        "id",
    ]
    list_filter = ["is_read", "created"]
    search_fields = ["sender__username", "text"]
    readonly_fields = ["thread", "sender", "content", "created", "is_read", "edited", "deleted"]
    fields = readonly_fields
    inlines = [AttachmentInline, ReactionInline]
    # Counting the whole table is left to the threads' counts (MessageChangeList).
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        messages = super().get_queryset(request).select_related("sender", "thread")
        return messages.prefetch_related("thread__participants")

    def get_changelist(self, request: HttpRequest, **kwargs) -> type[ChangeList]:
        return MessageChangeList

    def get_paginator(self, request: HttpRequest, queryset: QuerySet[Message], *args, **kwargs):
        """The list's count, read from the threads' kept counts when the list is every
        message or one thread's (the thread's page links there), else counted."""
        paginator: Paginator = super().get_paginator(request, queryset, *args, **kwargs)
        if not queryset.query.where:
            paginator.count = message_total()
            return paginator
        thread_id = request.GET.get("thread__id__exact", "")
        if thread_id.isdigit():
            # The filter the list applied, and nothing else (no search, no other filter).
            one_thread = Message.objects.filter(thread__id__exact=thread_id).query.where
            if queryset.query.where == one_thread:
                paginator.count = thread_message_count(int(thread_id))
        return paginator

    @admin.display(description="text")
    def text_preview(self, message: Message) -> str:
        # Plain text, escaped by the admin like any other value: never rendered as HTML.
        return Truncator(message.content_label).chars(80)

    @admin.display(description="text")
    def content(self, message: Message) -> str:
        return message.content_label

    def get_deleted_objects(self, objs, request: HttpRequest):
        """Django's list (the messages and their reactions), with their files counted:
        they go too, though no cascade reaches them (the service deletes them). Django
        refuses the delete if a collected row's model has an admin that denies the user
        its deletion: reactions have none (they show inline), and an admin of theirs
        would have to let moderators delete them."""
        deleted, counts, missing, protected = super().get_deleted_objects(objs, request)
        files_count = Attachment.objects.filter(message__in=objs).count()
        if files_count:
            counts[Attachment._meta.verbose_name_plural] = files_count
        return deleted, counts, missing, protected

    def delete_model(self, request: HttpRequest, obj: Message) -> None:
        messages_purge(messages=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        messages_purge(messages=queryset)
