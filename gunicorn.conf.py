"""Gunicorn settings for `make serve` (read from the working directory automatically).

Everything a deployment tunes comes from the environment: WEB_CONCURRENCY (worker
processes, default 2 per core + 1), GUNICORN_BIND (default 127.0.0.1:8000) and
GUNICORN_TIMEOUT. Logs go to stdout/stderr for the process manager to collect.
"""

import multiprocessing
import os

wsgi_app = "chat_project.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# Recycle workers now and then so a slow leak cannot grow without bound.
max_requests = 10_000
max_requests_jitter = 1_000
# One line per request to stdout; GUNICORN_ACCESSLOG= (empty) turns it off (benchmarks).
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
errorlog = "-"
