"""The Moderators group and what its members may do with accounts in the admin: read them,
deactivate and reactivate them (logged, sessions ended), and nothing else; the tables of
tokens, lockouts, groups and permissions are out of their way."""

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from conftest import client_for
from users.models import User
from users.signals import accounts_removing
from users.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

USERS = "/admin/users/user/"

# Out of a moderator's way: the admin pages of tokens, lockouts, groups and the log.
NOT_FOR_MODERATORS = [
    "/admin/token_blacklist/outstandingtoken/",
    "/admin/token_blacklist/blacklistedtoken/",
    "/admin/axes/accessattempt/",
    "/admin/axes/accesslog/",
    "/admin/axes/accessfailurelog/",
    "/admin/auth/group/",
    "/admin/admin/logentry/",
    "/admin/users/block/",
]


@pytest.fixture
def superuser_admin(db) -> Client:
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def run_action(client: Client, action: str, *users) -> object:
    return client.post(
        USERS, {"action": action, "_selected_action": [user.pk for user in users]}, follow=True
    )


def logged_changes() -> list[tuple[str, str, str]]:
    """The admin's log of account changes: (who, whose account, what), oldest first."""
    entries = LogEntry.objects.filter(action_flag=CHANGE).order_by("id")
    return [(e.user.username, e.object_repr, e.change_message) for e in entries]


def test_the_moderators_group_has_exactly_the_permissions_moderation_needs():
    group = Group.objects.get(name="Moderators")

    permissions = {
        f"{app_label}.{codename}"
        for app_label, codename in group.permissions.values_list(
            "content_type__app_label", "codename"
        )
    }

    assert permissions == {
        "users.view_user",
        "users.deactivate_user",
        "threads.view_thread",
        "threads.view_message",
        "threads.delete_message",
        "threads.view_attachment",
        "threads.delete_attachment",
        "threads.view_reaction",
    }


@pytest.mark.django_db(transaction=True)
def test_the_group_migration_can_be_undone_and_redone():
    executor = MigrationExecutor(connection)
    executor.migrate([("threads", "0008_change_log")])
    assert not Group.objects.filter(name="Moderators").exists()

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert Group.objects.get(name="Moderators").permissions.count() == 8


def test_a_moderator_may_deactivate_accounts_but_not_change_them(moderator):
    # Whatever page or check asks for "change_user" later, a moderator does not have it.
    assert moderator.has_perm("users.deactivate_user")
    assert moderator.has_perm("users.view_user")
    assert not moderator.has_perm("users.change_user")
    assert not moderator.has_perm("users.delete_user")


def test_a_moderator_gets_the_account_list_with_the_two_actions(moderator_admin, alice):
    page = moderator_admin.get(USERS)

    body = page.content.decode()
    assert page.status_code == 200
    assert "Select user to view" in body
    assert 'name="action"' in body
    assert '<option value="deactivate_accounts">Deactivate selected accounts</option>' in body
    assert '<option value="reactivate_accounts">Reactivate selected accounts</option>' in body
    assert "delete_selected" not in body


def test_a_moderator_sees_the_moderation_lists_and_nothing_else(moderator_admin):
    index = moderator_admin.get("/admin/").content.decode()

    for path in (USERS, "/admin/threads/thread/", "/admin/threads/message/"):
        assert moderator_admin.get(path).status_code == 200, path
        assert f'href="{path}"' in index
    assert moderator_admin.get("/admin/threads/attachment/").status_code == 200
    for path in NOT_FOR_MODERATORS:
        assert moderator_admin.get(path).status_code == 403, path
        assert f'href="{path}"' not in index
    for name in ("Outstanding tokens", "Access attempts", "Groups", "Log entries"):
        assert name not in index


def test_a_superuser_still_sees_tokens_lockouts_groups_and_the_log(superuser_admin):
    index = superuser_admin.get("/admin/").content.decode()

    for path in NOT_FOR_MODERATORS:
        assert superuser_admin.get(path).status_code == 200, path
        assert f'href="{path}"' in index


def test_a_moderator_cannot_edit_an_account(moderator_admin, alice):
    page = moderator_admin.get(f"{USERS}{alice.pk}/change/")
    edit = moderator_admin.post(
        f"{USERS}{alice.pk}/change/",
        {"username": "alice2", "is_active": "", "is_staff": "on", "is_superuser": "on"},
    )
    password = moderator_admin.post(
        f"{USERS}{alice.pk}/password/",
        {"password1": "Another-passphrase-9", "password2": "Another-passphrase-9"},
    )

    assert page.status_code == 200
    assert "View user" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert edit.status_code == 403
    assert password.status_code == 403
    assert moderator_admin.get(f"{USERS}add/").status_code == 403
    assert moderator_admin.get(f"{USERS}{alice.pk}/delete/").status_code == 403
    alice.refresh_from_db()
    assert (alice.username, alice.is_active, alice.is_staff, alice.is_superuser) == (
        "alice",
        True,
        False,
        False,
    )
    assert alice.check_password(DEFAULT_PASSWORD)


def test_a_moderator_cannot_give_themselves_more_rights(moderator_admin, moderator):
    response = moderator_admin.post(
        f"{USERS}{moderator.pk}/change/", {"username": "moderator", "is_superuser": "on"}
    )

    assert response.status_code == 403
    moderator.refresh_from_db()
    assert not moderator.is_superuser


def test_a_moderator_deactivates_an_account_its_sessions_end(moderator_admin, alice, bob):
    refresh = RefreshToken.for_user(alice)
    alices_api = client_for(alice)
    assert alices_api.get("/api/user/me/").status_code == 200

    response = run_action(moderator_admin, "deactivate_accounts", alice)

    assert response.status_code == 200
    assert "Deactivated: alice." in response.content.decode()
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert not alice.is_active
    assert bob.is_active
    assert alices_api.get("/api/user/me/").status_code == 401
    assert (
        client_for(None).post("/api/token/refresh/", {"refresh": str(refresh)}).status_code == 401
    )
    assert BlacklistedToken.objects.filter(token__jti=refresh["jti"]).exists()
    login = client_for(None).post(
        "/api/token/", {"username": "alice", "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 401
    assert logged_changes() == [("moderator", "alice", "Deactivated the account.")]


def test_a_moderator_reactivates_an_account(moderator_admin, alice):
    run_action(moderator_admin, "deactivate_accounts", alice)

    response = run_action(moderator_admin, "reactivate_accounts", alice)

    assert "Reactivated: alice." in response.content.decode()
    alice.refresh_from_db()
    assert alice.is_active
    login = client_for(None).post(
        "/api/token/", {"username": "alice", "password": DEFAULT_PASSWORD}
    )
    assert login.status_code == 200
    assert logged_changes() == [
        ("moderator", "alice", "Deactivated the account."),
        ("moderator", "alice", "Reactivated the account."),
    ]


def test_switching_twice_changes_and_logs_once(moderator_admin, alice):
    run_action(moderator_admin, "deactivate_accounts", alice)
    again = run_action(moderator_admin, "deactivate_accounts", alice)

    assert "1 already inactive" in again.content.decode()
    assert len(logged_changes()) == 1


def test_an_account_its_owner_deleted_stays_closed(moderator_admin, alice):
    client_for(alice).delete("/api/user/me/", {"current_password": DEFAULT_PASSWORD})
    alice.refresh_from_db()

    run_action(moderator_admin, "reactivate_accounts", alice)

    alice.refresh_from_db()
    assert not alice.is_active
    assert logged_changes() == []


def test_a_moderator_cannot_switch_staff_or_themselves(moderator_admin, moderator, alice):
    other = UserFactory(username="other-moderator", is_staff=True)
    root = UserFactory(username="root", is_staff=True, is_superuser=True)

    response = run_action(moderator_admin, "deactivate_accounts", other, root, moderator, alice)

    body = response.content.decode()
    assert "Left alone" in body
    for account in (other, root, moderator):
        account.refresh_from_db()
        assert account.is_active, account
    alice.refresh_from_db()
    assert not alice.is_active
    assert logged_changes() == [("moderator", "alice", "Deactivated the account.")]


def test_a_superuser_may_deactivate_a_moderator(superuser_admin, moderator):
    run_action(superuser_admin, "deactivate_accounts", moderator)

    moderator.refresh_from_db()
    assert not moderator.is_active
    assert logged_changes() == [("root", "moderator", "Deactivated the account.")]


def test_someone_without_the_group_cannot_deactivate(alice, bob):
    staff = UserFactory(username="helper", is_staff=True)
    client = Client()
    client.force_login(staff)

    response = client.post(USERS, {"action": "deactivate_accounts", "_selected_action": [bob.pk]})

    assert response.status_code == 403
    bob.refresh_from_db()
    assert bob.is_active
    assert OutstandingToken.objects.count() == 0
    assert logged_changes() == []


def test_change_user_alone_neither_switches_nor_edits_accounts(alice, bob):
    """Deactivating is its own permission: a staff member some administrator gave "view"
    and "change" on users gets no actions, and still no account form (it could grant
    them superuser status)."""
    staff = UserFactory(username="helper", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="users", codename__in=["view_user", "change_user"]
        )
    )
    client = Client()
    client.force_login(staff)

    listed = client.get(USERS).content.decode()
    switched = run_action(client, "deactivate_accounts", bob)
    edit = client.post(f"{USERS}{alice.pk}/change/", {"username": "alice", "is_superuser": "on"})
    promote = client.post(
        f"{USERS}{staff.pk}/change/", {"username": "helper", "is_superuser": "on"}
    )

    assert "deactivate_accounts" not in listed
    assert "Deactivated:" not in switched.content.decode()
    assert edit.status_code == promote.status_code == 403
    bob.refresh_from_db()
    staff.refresh_from_db()
    assert bob.is_active
    assert not staff.is_superuser
    assert logged_changes() == []


def test_a_superuser_still_edits_an_account(superuser_admin, alice):
    page = superuser_admin.get(f"{USERS}{alice.pk}/change/").content.decode()
    response = superuser_admin.post(
        f"{USERS}{alice.pk}/change/",
        {
            "username": "alice",
            "first_name": "Alice",
            "is_active": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
            "initial-date_joined_0": "2026-01-01",
            "initial-date_joined_1": "10:00:00",
        },
    )

    assert 'name="_save"' in page
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.first_name == "Alice"


def test_a_failed_bulk_delete_of_accounts_leaves_no_log_entries(superuser_admin, alice, bob):
    """Django's bulk delete logs the rows before deleting them: the entries go with a
    delete that failed, as the single delete view's do."""

    def storage_down(**kwargs):
        raise RuntimeError("storage down")

    accounts_removing.connect(storage_down, dispatch_uid="test-storage-down")
    try:
        with pytest.raises(RuntimeError, match="storage down"):
            superuser_admin.post(
                USERS,
                {
                    "action": "delete_selected",
                    "_selected_action": [alice.pk, bob.pk],
                    "post": "yes",
                },
            )
    finally:
        accounts_removing.disconnect(dispatch_uid="test-storage-down")

    assert set(User.objects.values_list("username", flat=True)) >= {"alice", "bob"}
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()


def test_a_superusers_bulk_delete_of_accounts_logs_each(superuser_admin, alice, bob):
    response = superuser_admin.post(
        USERS, {"action": "delete_selected", "_selected_action": [alice.pk, bob.pk], "post": "yes"}
    )

    assert response.status_code == 302
    assert not User.objects.filter(username__in=["alice", "bob"]).exists()
    deleted = LogEntry.objects.filter(action_flag=DELETION)
    assert sorted(deleted.values_list("user__username", "object_repr")) == [
        ("root", "alice"),
        ("root", "bob"),
    ]


def test_the_log_lists_every_moderators_action_for_a_superuser(
    superuser_admin, moderator_admin, alice
):
    run_action(moderator_admin, "deactivate_accounts", alice)

    page = superuser_admin.get("/admin/admin/logentry/").content.decode()

    assert "moderator" in page
    assert "Changed “alice” — Deactivated the account." in page


@pytest.mark.parametrize("selected", [["abc"], [""], ["²"], [str(2**63)], ["1", "abc"]])
@pytest.mark.parametrize(
    ("path", "action"),
    [(USERS, "deactivate_accounts"), ("/admin/threads/message/", "delete_selected")],
)
def test_a_selection_of_no_real_rows_does_nothing_and_says_so(
    moderator_admin, alice, path, action, selected
):
    response = moderator_admin.post(
        path, {"action": action, "_selected_action": selected}, follow=True
    )

    assert response.status_code == 200
    assert "The selection names rows that do not exist: nothing was done." in (
        response.content.decode()
    )
    assert not LogEntry.objects.exists()
    alice.refresh_from_db()
    assert alice.is_active


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/admin/admin/logentry/", "action_time__year=2147483648"),
        ("/admin/admin/logentry/", "action_time__gte=not-a-date"),
        ("/admin/threads/message/", "created__year=2147483648"),
        ("/admin/threads/thread/", "updated__year=2147483648"),
        ("/admin/users/user/", "date_joined__year=99999"),
    ],
)
def test_odd_dates_in_a_lists_address_are_a_bad_filter(superuser_admin, path, query):
    response = superuser_admin.get(f"{path}?{query}")

    assert response.status_code == 302
    assert response["Location"] == f"{path}?e=1"
