"""WSGI entry point, for serving the REST API alone under a WSGI server
(`gunicorn chat_project.wsgi`). `make serve` runs the ASGI application (chat_project/asgi.py),
which also serves the WebSocket endpoint; with REDIS_URL set, events published by WSGI
workers reach the WebSocket clients of ASGI servers too."""

import os

from django.core.wsgi import get_wsgi_application

from chat_project.http_guards import UNSUPPORTED_CHARSET, usable_charset

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")

django_application = get_wsgi_application()


def application(environ, start_response):
    if not usable_charset(environ.get("CONTENT_TYPE", ""), environ.get("QUERY_STRING", "")):
        start_response(
            "415 Unsupported Media Type",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(UNSUPPORTED_CHARSET))),
            ],
        )
        return [UNSUPPORTED_CHARSET]
    return django_application(environ, start_response)
