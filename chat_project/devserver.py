"""`make run`: the server `make serve` runs (uvicorn, chat_project.asgi, the worker's
settings), as one process that restarts when the code changes. `--no-reload` serves
without watching the code: the browser tests' server (webapp/tests/conftest.py), whose
state (the in-memory channel layer, the rate-limit counters) an edit must not wipe mid-run.

`manage.py runserver` (Daphne) answers some requests differently from the production
server: Twisted parses a multipart body itself and answers a malformed one with a bare
400 before Django can answer its documented 415. Developing on the production stack keeps
what a developer sees and what a deployment answers the same.
"""

import argparse
import copy
import os

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from chat_project.logs import AccessLogFields, JsonFormatter, log_format
from chat_project.workers import UvicornWorker

# What the reloader watches: the project's own code, not the virtualenv.
SOURCE_FOLDERS = ["chat_project", "users", "threads", "webapp"]


def log_config() -> dict:
    """uvicorn's logging, with access tokens blanked out of logged URLs as in production,
    and with LOG_FORMAT=json, JSON lines as in production (gunicorn.conf.py)."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_tokens": {"()": "chat_project.workers.RedactTokens"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_tokens"]
    if log_format(os.environ.get("LOG_FORMAT")) == "json":
        config["formatters"] = {name: {"()": JsonFormatter} for name in config["formatters"]}
        config["filters"]["access_fields"] = {"()": AccessLogFields}
        config["handlers"]["access"]["filters"].append("access_fields")
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--no-reload",
        dest="reload",
        action="store_false",
        help="do not restart when the code changes",
    )
    arguments = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")
    uvicorn.run(
        "chat_project.asgi:application",
        host=arguments.host,
        port=arguments.port,
        reload=arguments.reload,
        reload_dirs=SOURCE_FOLDERS if arguments.reload else None,
        log_config=log_config(),
        **UvicornWorker.CONFIG_KWARGS,
    )


if __name__ == "__main__":
    main()
