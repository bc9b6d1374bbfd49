"""What every app's admin shares."""

from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.db import router, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from chat_project.ids import MAX_ID


class AtomicActionsMixin:
    """An action (the bulk delete among them) writes its log entries and makes its change
    in one transaction, as the admin's single delete and change views do: Django's bulk
    delete logs the rows before it deletes them, outside any transaction of its own, so a
    delete that failed would leave entries for rows still there.

    A selection that names no row an id could (`abc`, a number past the largest id) is
    refused with a message, as an empty one is: Django would query with it and fail (500).
    """

    def response_action(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        if not all(
            value.isascii() and value.isdigit() and int(value) <= MAX_ID for value in selected
        ):
            self.message_user(
                request,
                "The selection names rows that do not exist: nothing was done.",
                messages.WARNING,
            )
            return HttpResponseRedirect(request.get_full_path())
        with transaction.atomic(using=router.db_for_write(self.model)):
            return super().response_action(request, queryset)


class AddressFiltersMixin:
    """A list's address may filter on any field its filters name (Django allows it), and a
    value no database date can hold (`created__year=2147483648`) fails the query, which
    Django answers with a 500: it is answered as any other bad filter is (`?e=1`)."""

    def get_changelist_instance(self, request: HttpRequest):
        try:
            return super().get_changelist_instance(request)
        except (ValueError, OverflowError) as error:
            raise IncorrectLookupParameters(error) from error
