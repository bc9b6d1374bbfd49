from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from users.models import Block


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
        raise ValidationError(
            {"username": ["A user with that username already exists."]}, code="unique"
        ) from None


def block_create(*, blocker: AbstractBaseUser, blocked: AbstractBaseUser) -> tuple[Block, bool]:
    """`blocker` blocks `blocked`. Blocking twice is harmless: returns `(block, created)`.

    get_or_create alone can fail when an unblock deletes the row between its insert
    colliding and its re-read; trying again settles it either way.
    """
    if blocker.pk == blocked.pk:
        raise ValidationError({"user": ["You cannot block yourself."]}, code="block_self")
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
