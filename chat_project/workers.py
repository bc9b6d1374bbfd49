"""The gunicorn worker for `make serve` (gunicorn.conf.py): uvicorn, tuned for this app."""

import logging
import re

from uvicorn_worker import UvicornWorker as BaseUvicornWorker

TOKEN_IN_QUERY = re.compile(r"(?<=[?&]token=)[^&\s\"']+")


class RedactTokens(logging.Filter):
    """Blank access tokens out of logged URLs: WebSocket clients may pass theirs as
    `?token=`, and the server logs each handshake's path."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                TOKEN_IN_QUERY.sub("[redacted]", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = TOKEN_IN_QUERY.sub("[redacted]", record.msg)
        return True


class UvicornWorker(BaseUvicornWorker):
    CONFIG_KWARGS = {
        **BaseUvicornWorker.CONFIG_KWARGS,
        # Django has no startup or shutdown hooks to run.
        "lifespan": "off",
        # The client address is the peer's: the throttles' trusted-proxy count
        # (DJANGO_NUM_PROXIES) decides how far X-Forwarded-For is believed, as under WSGI.
        "proxy_headers": False,
        # Clients send only small JSON notices over their socket.
        "ws_max_size": 64 * 1024,
        # uvicorn's default WebSocket implementation (websockets-sansio, uvicorn 0.54)
        # never sends its 400/414 for an oversized handshake and holds the connection
        # open; this one answers at once. uvicorn warns at start-up that it is deprecated:
        # switch back when the default flushes its rejections.
        "ws": "websockets",
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).addFilter(RedactTokens())
