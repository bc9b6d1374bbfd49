from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from threads.services import threads_delete_of
from users.models import Block, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Deleting an account also deletes its threads: a thread is a conversation between
    two people, and the other person's unread counts must not keep messages that went
    with the account."""

    @transaction.atomic
    def delete_model(self, request: HttpRequest, obj: User) -> None:
        threads_delete_of(user_ids=[obj.pk])
        super().delete_model(request, obj)

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        threads_delete_of(user_ids=list(queryset.values_list("pk", flat=True)))
        super().delete_queryset(request, queryset)


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ["blocker", "blocked", "created"]
    search_fields = ["blocker__username", "blocked__username"]
    list_select_related = ["blocker", "blocked"]
    raw_id_fields = ["blocker", "blocked"]
