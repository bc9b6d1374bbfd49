"""Authentication backends."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db.models.functions import Lower
from django.db.models.lookups import Exact


class CaseInsensitiveModelBackend(ModelBackend):
    """Django's username and password check, with the username in any letter case.

    Usernames are unique regardless of case (`user_username_ci_unique`), so "Alice" names
    exactly one account, and every login path (the API's, the legacy path's, the admin's)
    goes through `authenticate()` and so through here. The look-up compares `LOWER(username)`,
    the expression that unique index is built on, so it is an index look-up on every
    database. A miss still hashes the password once, as ModelBackend does, so the answer's
    timing does not tell which usernames exist.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        user_model = get_user_model()
        if username is None:
            username = kwargs.get(user_model.USERNAME_FIELD)
        if not isinstance(username, str) or password is None:
            return None
        try:
            if not username.isascii():
                # Names are ASCII (User.username_validator), and str.lower() maps a few
                # other letters onto ASCII ones (the Kelvin sign onto "k"): a look-alike.
                raise user_model.DoesNotExist
            user = user_model._default_manager.get(
                Exact(Lower(user_model.USERNAME_FIELD), username.lower())
            )
        except user_model.DoesNotExist:
            user_model().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
