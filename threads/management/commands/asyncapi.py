"""`manage.py asyncapi`: write the WebSocket's AsyncAPI document (threads/asyncapi.py)."""

from pathlib import Path

from django.core.management.base import BaseCommand

from threads.asyncapi import document_yaml


class Command(BaseCommand):
    help = (
        "Write the WebSocket's AsyncAPI 3 document (what /api/asyncapi.yaml serves) to "
        "--file, or to standard output. `make schema` writes docs/asyncapi.yaml with it."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--file", type=Path, help="Write to this file.")

    def handle(self, *args, file: Path | None = None, **options) -> None:
        text = document_yaml()
        if file is None:
            self.stdout.write(text, ending="")
        else:
            file.write_text(text, encoding="utf-8")
