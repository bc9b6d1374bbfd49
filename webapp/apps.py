from django.apps import AppConfig


class WebappConfig(AppConfig):
    """The chat page at /app/: a client of the public REST and WebSocket API."""

    name = "webapp"
