"""`manage.py changes_prune`: remove change-log entries past SYNC_RETENTION_DAYS (cron)."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from threads.services import changes_prune


class Command(BaseCommand):
    help = (
        "Remove the change-log entries older than SYNC_RETENTION_DAYS (30 by default). "
        "A client whose cursor is older then gets 410 resync_required from /api/sync/ and "
        "loads everything again. Run it daily, e.g. from cron."
    )

    def handle(self, *args, **options) -> None:
        removed = changes_prune(older_than=timedelta(days=settings.SYNC_RETENTION_DAYS))
        if options["verbosity"]:
            self.stdout.write(f"Removed {removed} change-log entr{'y' if removed == 1 else 'ies'}.")
