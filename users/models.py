from django.contrib.auth.models import AbstractUser


class User(AbstractUser):
    """The project's user. A model of our own from the start, so fields can be added later
    without the painful mid-project swap of AUTH_USER_MODEL."""

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
