"""Gunicorn settings for `make serve` (read from the working directory automatically).

Gunicorn manages uvicorn worker processes that serve the ASGI application: the REST API
and the WebSocket endpoint on one port. Everything a deployment tunes comes from the
environment: WEB_CONCURRENCY (worker processes), GUNICORN_BIND (default 127.0.0.1:8000),
GUNICORN_TIMEOUT and GUNICORN_MAX_REQUESTS. Logs go to stdout/stderr for the process
manager to collect.
"""

import glob
import multiprocessing
import os
import shutil
import tempfile

from chat_project.logs import gunicorn_json_log_config, log_format

wsgi_app = "chat_project.asgi:application"
worker_class = "chat_project.workers.UvicornWorker"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")

# Without REDIS_URL the channel layer lives in each process's memory, so an event reaches
# only the WebSockets of the process that published it: one worker, unless told otherwise.
_shared_layer = bool(os.environ.get("REDIS_URL"))
workers = int(
    os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1 if _shared_layer else 1)
)


timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# Recycling a worker also drops its WebSocket connections, so it is off unless asked for
# (clients reconnect and catch up, but every recycle makes them do it).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
# One line per request to stdout; GUNICORN_ACCESSLOG= (empty) turns it off (benchmarks).
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
errorlog = "-"
# LOG_FORMAT=json: gunicorn's and the workers' lines as JSON, like the application's.
if log_format(os.environ.get("LOG_FORMAT")) == "json":
    logconfig_dict = gunicorn_json_log_config(accesslog)
# Gunicorn 27's control socket has one default path per user: several servers on one host
# (make test-scaleout starts two) would fight over it.
control_socket_disable = True

# Prometheus metrics (chat_project/metrics.py): every worker writes its values to files in
# PROMETHEUS_MULTIPROC_DIR, and the worker answering a scrape adds them up. The variable
# must be set before a worker imports prometheus-client, so here, in the master. Without
# one set by the operator, a folder of this server's own, removed when it stops.
# (mkdtemp: a new folder only this user can enter, under a name nobody can take first.)
if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
    _own_metrics_dir = None
else:
    _own_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(
        prefix="chat-metrics-"
    )


def on_starting(server) -> None:
    # Logged, not printed: the line follows LOG_FORMAT like the server's others.
    if server.num_workers > 1 and not _shared_layer:
        server.log.warning(
            "%d workers without REDIS_URL: a WebSocket client receives only the events of "
            "requests that its own worker served. Set REDIS_URL to share events.",
            server.num_workers,
        )
    # Metric values left by a previous run would be added to this one's.
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(path, exist_ok=True)
    for leftover in glob.glob(os.path.join(path, "*.db")):
        os.remove(leftover)


def child_exit(server, worker) -> None:
    # A dead worker's gauges (its open sockets, its pool) no longer count; its counters do.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server) -> None:
    if _own_metrics_dir is not None:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)
