"""Django's own ASGI handler over the project (bench/handlers.py compares it with
chat_project.asgi). Not used by the project."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")

application = get_asgi_application()
