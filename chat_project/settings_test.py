"""Settings for the test suite: the production settings with a throwaway key.

Tests speak plain HTTP through the test client, so the HTTPS redirect is off; the fast
password hasher keeps user factories cheap. Everything else is exactly production.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-key-" + "x" * 50)
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")

from chat_project.settings import *  # noqa: E402, F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Pages render {% static %} without a collectstatic manifest, and WhiteNoise serves the
# apps' static folders directly instead of a collected STATIC_ROOT.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT = None
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not SQLite's shared in-memory database: concurrency tests need the same
    # locking (WAL, busy timeout, IMMEDIATE transactions) that production gets. One file per
    # test process, so two runs side by side cannot destroy each other's database.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(BASE_DIR / f"test-db-{os.getpid()}.sqlite3")  # noqa: F405
    }

if not os.environ.get("CACHE_URL"):
    # Each test starts by clearing the throttle counters (conftest.py); on a Redis cache
    # (REDIS_URL, as `make test-scaleout` sets for the channel layer) that would be FLUSHDB
    # of a shared database. Tests count in memory; the shared counters have their own check
    # (scripts/throttle_scaleout.py).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Every response the tests render is written by the API's renderer and checked against
# DRF's own bytes (chat_project/renderers.py).
REST_FRAMEWORK = {
    **REST_FRAMEWORK,  # noqa: F405
    "DEFAULT_RENDERER_CLASSES": [
        "chat_project.tests.renderers.CheckedJSONRenderer",
        *REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"][1:],  # noqa: F405
    ],
}
