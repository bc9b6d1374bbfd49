"""Accounts in the admin. A superuser does anything; a moderator (a staff member of the
"Moderators" group, threads/migrations/0009_moderators_group.py) reads accounts and
deactivates or reactivates them, through the actions, and nothing else: those need
`users.deactivate_user`, not "change", and every account's page is read-only to whoever
is not a superuser (no username, password, group, staff or permission can be changed)."""

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from chat_project.admin import AddressFiltersMixin, AtomicActionsMixin
from users.models import Block, User
from users.services import user_deactivate, user_reactivate
from users.signals import accounts_removing


@admin.register(User)
class UserAdmin(AtomicActionsMixin, AddressFiltersMixin, DjangoUserAdmin):
    """Deleting an account removes it for good, and whatever other apps keep for it
    (`accounts_removing`: the threads app deletes its conversations). Deactivating one
    suspends it (`user_deactivate`: its sessions and sockets end), reactivating lifts
    that; each is in the admin's log with who did it and when, in the transaction that
    makes the change (`AtomicActionsMixin`: the actions' and the bulk delete's)."""

    list_display = ["username", "is_active", "is_staff", "date_joined", "last_login", "deleted"]
    list_filter = ["is_active", "is_staff", "is_superuser", "groups"]
    actions = ["deactivate_accounts", "reactivate_accounts"]

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # An account's form can grant staff, superuser and permission rights: a staff
        # member given "change_user" could make themselves a superuser with it.
        if not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_deactivate_permission(self, request: HttpRequest) -> bool:
        """May run the deactivate and reactivate actions (`permissions=["deactivate"]`)."""
        return request.user.has_perm(f"{self.opts.app_label}.deactivate_user")

    @transaction.atomic
    def delete_model(self, request: HttpRequest, obj: User) -> None:
        accounts_removing.send(sender=User, user_ids=[obj.pk])
        super().delete_model(request, obj)

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        accounts_removing.send(sender=User, user_ids=list(queryset.values_list("pk", flat=True)))
        super().delete_queryset(request, queryset)

    @admin.action(description="Deactivate selected accounts", permissions=["deactivate"])
    def deactivate_accounts(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._switch_accounts(
            request, queryset, service=user_deactivate, done="Deactivated", unchanged="inactive"
        )

    @admin.action(description="Reactivate selected accounts", permissions=["deactivate"])
    def reactivate_accounts(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        self._switch_accounts(
            request,
            queryset,
            service=user_reactivate,
            done="Reactivated",
            unchanged="active or closed by their owner",
        )

    def _switch_accounts(
        self, request: HttpRequest, queryset: QuerySet[User], *, service, done: str, unchanged: str
    ) -> None:
        """Run `service` on each selected account the requester may switch, logging each
        one it changed (in the action's transaction, `AtomicActionsMixin`). Staff accounts
        are a superuser's to switch (a moderator cannot lock out another moderator or an
        administrator), and nobody switches their own."""
        accounts = list(queryset)
        refused = [
            account
            for account in accounts
            if account.pk == request.user.pk
            or (not request.user.is_superuser and (account.is_staff or account.is_superuser))
        ]
        changed = [
            account for account in accounts if account not in refused and service(user=account)
        ]
        LogEntry.objects.log_actions(
            user_id=request.user.pk,
            queryset=changed,
            action_flag=CHANGE,
            change_message=f"{done} the account.",
        )
        if changed:
            names = ", ".join(account.get_username() for account in changed)
            self.message_user(request, f"{done}: {names}.", messages.SUCCESS)
        if refused:
            names = ", ".join(account.get_username() for account in refused)
            self.message_user(
                request,
                f"Left alone (your own account, or staff, which only a superuser may switch): "
                f"{names}.",
                messages.WARNING,
            )
        already = len(accounts) - len(changed) - len(refused)
        if already:
            self.message_user(
                request, f"{already} already {unchanged}: nothing to do.", messages.INFO
            )


@admin.register(Block)
class BlockAdmin(AddressFiltersMixin, admin.ModelAdmin):
    list_display = ["blocker", "blocked", "created"]
    search_fields = ["blocker__username", "blocked__username"]
    list_select_related = ["blocker", "blocked"]
    raw_id_fields = ["blocker", "blocked"]


@admin.register(LogEntry)
class LogEntryAdmin(AddressFiltersMixin, admin.ModelAdmin):
    """The admin's log, every moderator's and administrator's action, read-only. Nobody
    has its permissions but superusers (the Moderators group does not include them)."""

    list_display = ["action_time", "user", "content_type", "entry"]
    # By date through the filter's ranges, not date_hierarchy: its year and month links
    # take any number from the URL, and Django fails (500) on one out of range.
    list_filter = ["action_time", "action_flag", "content_type"]
    search_fields = ["user__username", "object_repr", "change_message"]
    list_select_related = ["user", "content_type"]
    fields = [
        "action_time",
        "user",
        "action_flag",
        "content_type",
        "object_id",
        "object_repr",
        "entry",
    ]
    readonly_fields = fields

    @admin.display(description="what")
    def entry(self, log_entry: LogEntry) -> str:
        # "Deleted “alice: See you at 8…”.", "Changed “bob” — Deactivated the account."
        return str(log_entry)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
