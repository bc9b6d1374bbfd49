"""Hooks other apps register on accounts, so the users app knows nothing of them."""

from django.dispatch import Signal

# Sent with `user_ids` inside the transaction that is about to remove those accounts for
# good (the admin's delete), before their rows go: an app whose data must go with the
# accounts deletes it here (the threads app: their conversations).
accounts_removing = Signal()

# Sent with `user_id` inside the transaction that closes the account (the owner deleted it:
# deactivated and anonymised, its conversations kept for the people it talked to): an app
# removes what only that account could still use (the threads app: its unsent uploads).
account_closing = Signal()
