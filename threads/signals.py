"""What the threads app does when accounts change, connected on the users app's hooks so
that app knows nothing of threads.

- Live connections end with the account's access: when a user is deactivated or their
  password changes, every open socket of theirs is closed (code 4401), as their tokens
  stop working for REST at once. Connected on the User model's saves, so every path that
  changes an account (the API, the admin's forms, a shell) does it.
- An account removed for good takes its conversations along (`accounts_removing`): a
  thread is between two people, and the other person's unread counts must not keep
  messages that went with the account (their attachments' files go too).
- An account its owner closes keeps its messages and their files for the people it
  talked to, but its uploads no message took are removed (`account_closing`).
"""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save

from threads import events
from threads.services import threads_delete_of, unused_attachments_delete_of
from users.signals import account_closing, accounts_removing


def remember_access(sender, instance, update_fields=None, **kwargs) -> None:
    instance._access_before = None
    if instance._state.adding:
        return
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return  # a login's last_login, say: access does not change
    instance._access_before = (
        sender.objects.filter(pk=instance.pk).values_list("password", "is_active").first()
    )


def end_sessions_if_access_changed(sender, instance, created=False, **kwargs) -> None:
    before = getattr(instance, "_access_before", None)
    if created or before is None:
        return
    password, was_active = before
    if password != instance.password or (was_active and not instance.is_active):
        events.notify({"type": events.SESSION_ENDED}, to=[instance.pk], layer_type="session.end")


def delete_conversations(sender, user_ids: list[int], **kwargs) -> None:
    threads_delete_of(user_ids=user_ids)


def delete_unsent_uploads(sender, user_id: int, **kwargs) -> None:
    unused_attachments_delete_of(user_id=user_id)


def connect() -> None:
    accounts_removing.connect(delete_conversations, dispatch_uid="threads.delete_conversations")
    account_closing.connect(delete_unsent_uploads, dispatch_uid="threads.delete_unsent_uploads")
    user_model = get_user_model()
    pre_save.connect(remember_access, sender=user_model, dispatch_uid="threads.remember_access")
    post_save.connect(
        end_sessions_if_access_changed, sender=user_model, dispatch_uid="threads.end_sessions"
    )
