"""What every app's admin shares."""

from django.db import router, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse


class AtomicActionsMixin:
    """An action (the bulk delete among them) writes its log entries and makes its change
    in one transaction, as the admin's single delete and change views do: Django's bulk
    delete logs the rows before it deletes them, outside any transaction of its own, so a
    delete that failed would leave entries for rows still there."""

    def response_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        with transaction.atomic(using=router.db_for_write(self.model)):
            return super().response_action(request, queryset)
