"""What the account rules answer when they refuse a request (see chat_project.exceptions)."""

from chat_project.exceptions import InvalidField, NotFound


class UsernameTaken(InvalidField):
    field = "username"
    code = "unique"
    detail = "A user with that username already exists."


class WrongPassword(InvalidField):
    field = "current_password"
    code = "wrong_password"
    detail = "Wrong password."


class CannotBlockSelf(InvalidField):
    field = "user"
    code = "block_self"
    detail = "You cannot block yourself."


class NotBlocked(NotFound):
    detail = "You have not blocked this user."


def no_such_user(user_id: int) -> str:
    """The field error for a user id that names no active account (serializers' text)."""
    return f"User {user_id} does not exist."
