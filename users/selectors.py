"""Reads about users. One function per read shape."""

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Case, IntegerField, QuerySet, Value, When

from users.models import Block


def user_directory(*, search: str = "") -> QuerySet:
    """Active users a client can start a thread with, by username; `search` matches
    anywhere in the username, case-insensitively, with prefix matches first."""
    users = get_user_model().objects.filter(is_active=True).only("id", "username")
    if not search:
        return users.order_by("username", "id")
    return (
        users.filter(username__icontains=search)
        .annotate(
            prefix_rank=Case(
                When(username__istartswith=search, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("prefix_rank", "username", "id")
    )


def blocks_made_by(user: AbstractBaseUser) -> QuerySet[Block]:
    return Block.objects.filter(blocker=user).select_related("blocked").order_by("-created", "-id")
