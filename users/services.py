import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from users.errors import CannotBlockSelf, UsernameTaken, WrongPassword
from users.models import DELETED_USERNAME_PREFIX, Block
from users.signals import account_closing


def user_create(*, username: str, password: str) -> AbstractBaseUser:
    """Register a user with a hashed password.

    The unique indexes on username (exact and case-insensitive) are the final word: a
    concurrent registration of the same name that slipped past validation becomes the same
    400 as a taken name, not a 500. The savepoint is the whole transaction this needs.
    """
    user_model = get_user_model()
    try:
        with transaction.atomic():
            return user_model.objects.create_user(username=username, password=password)
    except IntegrityError:
        raise UsernameTaken from None


def block_create(*, blocker: AbstractBaseUser, blocked: AbstractBaseUser) -> tuple[Block, bool]:
    """`blocker` blocks `blocked`. Blocking twice is harmless: returns `(block, created)`.

    get_or_create alone can fail when an unblock deletes the row between its insert
    colliding and its re-read; trying again settles it either way.
    """
    if blocker.pk == blocked.pk:
        raise CannotBlockSelf
    for _ in range(3):
        try:
            with transaction.atomic():
                return Block.objects.get_or_create(blocker=blocker, blocked=blocked)
        except IntegrityError:
            continue
    raise IntegrityError("Could not block: the block kept changing concurrently.")


@transaction.atomic
def block_delete(*, blocker: AbstractBaseUser, blocked_id: int) -> bool:
    """Lift a block. Returns whether there was one."""
    deleted, _ = Block.objects.filter(blocker=blocker, blocked_id=blocked_id).delete()
    return bool(deleted)


def _refresh_tokens_revoke_all(*, user: AbstractBaseUser) -> None:
    """Blacklist every refresh token of `user` that is still outstanding. (Tokens also carry
    a fingerprint of the password hash, which a password change moves; the blacklist
    revokes them whatever the settings and shows it in the admin.)"""
    live = OutstandingToken.objects.filter(
        user=user, expires_at__gt=timezone.now(), blacklistedtoken__isnull=True
    )
    BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
    )


def _lock_as_checked(*, user: AbstractBaseUser) -> None:
    """Lock `user`'s row and make sure its password is still the one the request checked
    `current_password` against, or raise the same 400 as a wrong password: a change or a
    deletion that committed meanwhile (two tabs, a double click) made it wrong, and acting
    on the stale account would undo it (a deleted account given a password back, a token
    pair minted for a password that lost)."""
    locked = get_user_model().objects.select_for_update().filter(pk=user.pk, is_active=True)
    if locked.values_list("password", flat=True).first() != user.password:
        raise WrongPassword


@transaction.atomic
def user_password_change(*, user: AbstractBaseUser, new_password: str) -> dict[str, str]:
    """Set `user`'s password and end every other session: all their refresh tokens are
    revoked, their access tokens stop working (they carry the old password's fingerprint)
    and their sockets close (threads.signals, on the save). Returns a fresh token pair
    `{access, refresh}` for the client that made the change."""
    _lock_as_checked(user=user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    _refresh_tokens_revoke_all(user=user)
    refresh = RefreshToken.for_user(user)
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


@transaction.atomic
def user_delete(*, user: AbstractBaseUser) -> None:
    """The owner deletes their account. It is deactivated and anonymised rather than
    removed, so the people they talked to keep their conversations: the username becomes
    `deleted-<id>` (a prefix registration refuses), the password unusable, names and email
    blank, staff rights and groups gone. Every token is revoked and every socket closes
    (threads.signals, on the save), so nothing can act as the account again; what only
    the account could still use goes (`account_closing`: its unsent uploads)."""
    _lock_as_checked(user=user)
    account_closing.send(sender=type(user), user_id=user.pk)
    user.first_name = user.last_name = user.email = ""
    user.set_unusable_password()
    user.is_active = user.is_staff = user.is_superuser = False
    user.deleted = timezone.now()
    user.username = f"{DELETED_USERNAME_PREFIX}{user.pk}"
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # The placeholder belongs to someone else: an account registered before the
        # prefix was reserved, or named in the admin, whose forms do not refuse it.
        user.username = f"{DELETED_USERNAME_PREFIX}{user.pk}-{secrets.token_hex(4)}"
        user.save()
    user.groups.clear()
    user.user_permissions.clear()
    _refresh_tokens_revoke_all(user=user)


@transaction.atomic
def user_deactivate(*, user: AbstractBaseUser) -> bool:
    """A moderator suspends an account: it can no longer log in, its refresh tokens are
    revoked, its access tokens refused and its sockets closed (threads.signals, on the
    save), as when the owner deletes it, but nothing is anonymised and its conversations
    stay. Returns whether it was active."""
    account = get_user_model().objects.select_for_update().filter(pk=user.pk, is_active=True)
    if not account.exists():
        return False
    user.is_active = False
    user.save(update_fields=["is_active"])
    _refresh_tokens_revoke_all(user=user)
    return True


@transaction.atomic
def user_reactivate(*, user: AbstractBaseUser) -> bool:
    """A moderator lifts a suspension (`user_deactivate`): the account can log in again
    with its password. An account its owner deleted stays closed (it is anonymised, with
    no password). Returns whether it was inactive and is active now."""
    account = get_user_model().objects.select_for_update()
    if not account.filter(pk=user.pk, is_active=False, deleted__isnull=True).exists():
        return False
    user.is_active = True
    user.save(update_fields=["is_active"])
    return True
