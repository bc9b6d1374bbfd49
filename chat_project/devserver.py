"""`make run`: the server `make serve` runs (uvicorn, chat_project.asgi, the worker's
settings), as one process that restarts when the code changes.

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

from chat_project.workers import UvicornWorker

# What the reloader watches: the project's own code, not the virtualenv.
SOURCE_FOLDERS = ["chat_project", "users", "threads", "webapp"]


def log_config() -> dict:
    """uvicorn's logging, with access tokens blanked out of logged URLs as in production."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_tokens": {"()": "chat_project.workers.RedactTokens"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_tokens"]
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    arguments = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")
    uvicorn.run(
        "chat_project.asgi:application",
        host=arguments.host,
        port=arguments.port,
        reload=True,
        reload_dirs=SOURCE_FOLDERS,
        log_config=log_config(),
        **UvicornWorker.CONFIG_KWARGS,
    )


if __name__ == "__main__":
    main()
