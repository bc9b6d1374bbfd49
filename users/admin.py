from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from users.models import Block, User
from users.signals import accounts_removing


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Deleting an account removes it for good, and whatever other apps keep for it
    (`accounts_removing`: the threads app deletes its conversations)."""

    @transaction.atomic
    def delete_model(self, request: HttpRequest, obj: User) -> None:
        accounts_removing.send(sender=User, user_ids=[obj.pk])
        super().delete_model(request, obj)

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        accounts_removing.send(sender=User, user_ids=list(queryset.values_list("pk", flat=True)))
        super().delete_queryset(request, queryset)


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ["blocker", "blocked", "created"]
    search_fields = ["blocker__username", "blocked__username"]
    list_select_related = ["blocker", "blocked"]
    raw_id_fields = ["blocker", "blocked"]
