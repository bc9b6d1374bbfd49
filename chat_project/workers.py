"""The gunicorn worker for `make serve` (gunicorn.conf.py): uvicorn, tuned for this app."""

import gc
import logging
import re

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
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


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's supported WebSocket implementation (websockets' sans-I/O protocol), with
    the answer to a handshake it cannot parse actually sent.

    For a request line or headers over websockets' limits (an 8 KiB line, 128 headers),
    the protocol object queues a 400/414 and stops reading, but uvicorn 0.54 only flushes
    it for errors that come after the handshake: the client waited for an answer on an
    open connection until it gave up. Here it is sent and the connection closed at once.
    """

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.handshake_exc is not None and not self.close_sent:
            self.close_sent = True
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()


# Python's cycle collector, for a process holding many long-lived objects (each open
# socket is a few dozen) while every request leaves cyclic garbage behind (Django's and
# DRF's request, view and response refer to each other). With the defaults, full
# collections walked every socket's objects several times a second under load, each
# stopping the whole process (events and requests) for 50 to 400 ms. Objects loaded at
# start-up are frozen out of the walks, and a full collection waits for 100 collections
# of the middle generation instead of 10: about once a minute under load. The young
# generation stays small, so its collections stay short: figures in docs/performance.md
# ("Real-time delivery").
GC_THRESHOLDS = (1_000, 10, 100)


def tune_garbage_collector() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


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
        "ws": WebSocketProtocol,
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).addFilter(RedactTokens())

    def run(self) -> None:
        tune_garbage_collector()  # the application is loaded: freeze what it loaded
        super().run()

    async def _serve(self) -> None:
        # uvloop takes over a listening socket's descriptor and closes it at shutdown. It
        # detaches a plain socket.socket, but not gunicorn's wrapper around one, which
        # then closed the same descriptor again: "Error while closing socket [Errno 9]
        # Bad file descriptor" at every SIGTERM, and another file closed had the number
        # been reused meanwhile. uvicorn gets the plain sockets.
        self.sockets = [getattr(listener, "sock", listener) for listener in self.sockets]
        await super()._serve()
