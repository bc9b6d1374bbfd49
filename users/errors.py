"""What the account rules answer when they refuse a request (see chat_project.exceptions)."""

from chat_project.exceptions import InvalidField, NotFound, PermissionDenied


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


class CrossOriginRequest(PermissionDenied):
    """A browser session request sent by a page of another origin (users.browser_session)."""

    code = "cross_origin"
    detail = (
        "This request comes from a page of another origin: its Origin header is not this "
        "server's, nor a trusted origin."
    )


class NotBlocked(NotFound):
    detail = "You have not blocked this user."


def no_such_user(user_id: int) -> str:
    """The field error for a user id that names no active account (serializers' text)."""
    return f"User {user_id} does not exist."
