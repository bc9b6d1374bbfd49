"""The gunicorn worker for `make serve` (gunicorn.conf.py): uvicorn, tuned for this app."""

from uvicorn_worker import UvicornWorker as BaseUvicornWorker


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
    }
