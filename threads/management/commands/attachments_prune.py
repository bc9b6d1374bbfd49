"""`manage.py attachments_prune`: remove uploads no message took within a day (cron)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, CommandParser

from threads.services import attachments_prune, orphan_files_remove


class Command(BaseCommand):
    help = (
        "Remove attachments uploaded more than --hours ago (24 by default) that no message "
        "took, with their files. Run it daily, e.g. from cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--orphans",
            action="store_true",
            help="Also walk the storage for files no attachment names (left by a crash "
            "between storing and recording an upload) and remove those older than --hours.",
        )
        parser.add_argument(
            "--hours",
            type=float,
            default=24.0,
            help="Age, in hours, past which an unused upload is removed (default 24).",
        )

    def handle(self, *args, hours: float, orphans: bool, **options) -> None:
        if hours < 0:
            raise CommandError("--hours cannot be negative.")
        removed = attachments_prune(older_than=timedelta(hours=hours))
        self.stdout.write(f"Removed {removed} unused attachment(s).")
        if orphans:
            removed = orphan_files_remove(older_than=timedelta(hours=hours))
            self.stdout.write(f"Removed {removed} stored file(s) no attachment names.")
