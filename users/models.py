from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.validators import ASCIIUsernameValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower

from users.errors import UsernameTaken

# A deleted account is renamed `deleted-<id>` (users.services.user_delete); registration
# refuses names with this prefix so that the placeholder is free (accounts named before the
# prefix was reserved, or in the admin, can still hold one: user_delete then adds a suffix).
DELETED_USERNAME_PREFIX = "deleted-"


class User(AbstractUser):
    """The project's user. A model of our own from the start, so fields can be added later
    without the painful mid-project swap of AUTH_USER_MODEL.

    Usernames are ASCII letters, digits and @.+-_: a name is how people recognise each
    other, and Unicode look-alikes ("аlice" with a Cyrillic а) would let one pass for
    another; ASCII also makes the case-insensitive uniqueness below exact on every database.
    """

    username_validator = ASCIIUsernameValidator()
    username = models.CharField(
        "username",
        max_length=150,
        unique=True,
        help_text="Required. 150 characters or fewer. ASCII letters, digits and @/./+/-/_ only.",
        validators=[username_validator],
        error_messages={"unique": UsernameTaken.detail},
    )
    # When the owner deleted the account (users.services.user_delete): it is then inactive
    # and anonymised, and its conversations stay with the other participants.
    deleted = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        permissions = [
            # The moderators' right over accounts (users/admin.py): suspend and restore,
            # and nothing else. "change_user" would be every edit, on any page that asks.
            ("deactivate_user", "Can deactivate and reactivate users"),
        ]
        constraints = [
            # "Alice" and "alice" are one name to the people reading it: a second account
            # differing only in case would be an impersonation.
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
        ]


class Block(models.Model):
    """`blocker` does not want to hear from `blocked`: the blocked user can no longer start
    a thread with the blocker or post into their thread."""

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_made"
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_received"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_once_per_pair"),
            models.CheckConstraint(condition=~Q(blocker=F("blocked")), name="block_not_self"),
        ]

    def __str__(self) -> str:
        """Like "alice blocks bob" (queries unless both users are selected with the block)."""
        return f"{self.blocker.get_username()} blocks {self.blocked.get_username()}"
