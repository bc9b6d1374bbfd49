from django.apps import AppConfig


class ThreadsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "threads"

    def ready(self) -> None:
        from django.conf import settings
        from PIL import Image

        from threads import signals

        signals.connect()
        # Pillow's decompression-bomb check (a warning past this, an error past twice
        # this), which threads/files.py turns into a refusal: the same limit as ours.
        Image.MAX_IMAGE_PIXELS = settings.ATTACHMENT_MAX_IMAGE_PIXELS
