"""Hooks other apps register on accounts, so the users app knows nothing of them."""

from django.dispatch import Signal

# Sent with `user_ids` inside the transaction that is about to remove those accounts for
# good (the admin's delete), before their rows go: an app whose data must go with the
# accounts deletes it here (the threads app: their conversations).
accounts_removing = Signal()
