"""Settings for the chat API.

Every value that differs between a laptop and a deployment comes from the environment
(see `.env.example` and the README's configuration table). The defaults are the safe
production ones: DEBUG off, no secret key unless one is given, HTTPS-only cookies,
SSL redirect and HSTS. `make run` turns DEBUG on for local development.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from chat_project.logs import log_format

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# A well-known development key is acceptable only while DEBUG is on; in production a
# missing key must stop the process instead of silently signing tokens with a public key.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it, or set DJANGO_DEBUG=1 for local development."
        )
    SECRET_KEY = "django-insecure-local-development-only-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # First, so that `manage.py runserver` is Daphne's: HTTP and WebSocket on one port.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "users",
    "threads",
    "webapp",
]

MIDDLEWARE = [
    # First: every response, the probes' included, carries the request's X-Request-ID, and
    # every line logged while answering it carries its id (chat_project/request_context.py).
    "chat_project.middleware.RequestIdMiddleware",
    # /healthz and /readyz, answered before the Host check and the HTTPS redirect.
    "chat_project.middleware.HealthCheckMiddleware",
    # /metrics, answered like the probes; every other request counted and timed.
    "chat_project.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's, the API docs') straight from the app server, compressed
    # and cached forever under hashed names: no separate web server needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "chat_project.middleware.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The admin's user in the request's log lines (the API's: its authentication).
    "chat_project.middleware.SessionUserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # 503 instead of 500 when a view finds the database unreachable (chat_project/errors.py).
    "chat_project.middleware.ErrorAnswerMiddleware",
    # Last: turns a login refused for a lockout into the lockout page (django-axes).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "chat_project.urls"
WSGI_APPLICATION = "chat_project.wsgi.application"
ASGI_APPLICATION = "chat_project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's own versions of other apps' templates (drf_spectacular/redoc.html)
        "DIRS": [BASE_DIR / "chat_project" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: SQLite in the project root unless DATABASE_URL names another one
# (e.g. postgres://user@host:5432/chat).
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers must wait for each other rather than fail with "database is locked":
    # WAL lets readers proceed during a write, IMMEDIATE takes the write lock when a
    # transaction starts (so a read-then-write transaction cannot deadlock on upgrade), and
    # the timeout is how long a writer waits for the lock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": env.int("DJANGO_SQLITE_TIMEOUT", default=20),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Each HTTP thread keeps its connection from one request to the next (unless the URL
    # says otherwise, `?conn_max_age=`). Opening one per request, as Django does by
    # default, cost a third of the CPU time Django spent on a 50-row message page: the
    # connection's set-up (its SQL functions, the PRAGMAs above) and, when it was the last
    # one open, a WAL checkpoint at its close (docs/performance.md). The threads are a
    # fixed pool (HTTP_THREADS), so the connections are too.
    DATABASES["default"].setdefault("CONN_MAX_AGE", None)
else:
    # A pool of connections per server process (psycopg_pool), each checked before it is
    # handed out, shared by every thread of the process: the HTTP threads
    # (chat_project/asgi.py) and the WebSocket consumers' database calls. Per-thread
    # persistent connections (CONN_MAX_AGE) would multiply with the threads until
    # PostgreSQL refuses more ("too many clients"). Each process holds at most
    # DJANGO_DB_POOL_MAX_SIZE connections: keep WEB_CONCURRENCY times that below the
    # server's max_connections.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # the pool checks each connection
    options["pool"] = {
        "min_size": env.int("DJANGO_DB_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DJANGO_DB_POOL_MAX_SIZE", default=10),
        "timeout": env.int("DJANGO_DB_POOL_TIMEOUT", default=10),
    }
    # Server-side parameter binding lets psycopg prepare the statements a connection runs
    # again and again, so PostgreSQL plans each hot query once per connection instead of
    # every time (planning the thread list's joins cost several times running it: figures
    # in docs/performance.md). Turn it off behind a pooler in transaction mode
    # (PgBouncer), which cannot keep prepared statements.
    if env.bool("DJANGO_DB_SERVER_SIDE_BINDING", default=True):
        # psycopg prepares a statement the fifth time a connection runs it.
        options.update({"server_side_binding": True, "prepare_threshold": 5})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "users.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses logins that are locked out, before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    # Usernames log in in any letter case (they are unique regardless of case).
    "users.backends.CaseInsensitiveModelBackend",
]

# Login lockout (django-axes), on every path that checks a password (the API's logins and
# the admin's): after AXES_FAILURE_LIMIT failures for one username (from anywhere), or
# from one client address (for any usernames), further logins of that username, or from
# that address, are refused for AXES_COOLOFF_MINUTES after the latest failure, even with
# the right password. Attempts are in the database (the admin's "Access attempts");
# `manage.py axes_reset_username <name>` or `axes_reset` lifts them.
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_CALLABLE = "users.lockout.lockout_username"
# The address the throttles use (REST_FRAMEWORK["NUM_PROXIES"], DJANGO_NUM_PROXIES).
AXES_CLIENT_IP_CALLABLE = "users.lockout.lockout_client_ip"
AXES_LOCKOUT_TEMPLATE = "users/lockout.html"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# Real-time events (threads/events.py, threads/consumers.py). Without REDIS_URL, the
# in-memory channel layer: events reach the WebSocket clients of the same process only,
# which is right for one process (`make run`, `make serve` with one worker). With
# REDIS_URL, every server process shares the layer and delivers the others' events.
REDIS_URL = env.str("REDIS_URL", default="")
# How long a read or write to Redis may take before the connection counts as lost (the
# cache, the channel layer's publishes, the subscription's PING).
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=10.0)
# Either layer buffers up to 1,000 events per connection that its client has not read
# yet; past that, events for it are dropped (the socket resends them from the change log).
if REDIS_URL:
    from redis.connection import parse_url

    # Pub/sub: one subscription per process, a group send one PUBLISH
    # (chat_project/channel_layer.py). Redis's pub/sub channels are one namespace for the
    # whole server, whatever database the URL picks: the prefix keeps deployments that
    # share a Redis under different database numbers from hearing each other's events.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "chat_project.channel_layer.PubSubChannelLayer",
            "CONFIG": {
                "prefix": f"chat.db{parse_url(REDIS_URL).get('db', 0)}.",
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": REDIS_SOCKET_TIMEOUT,
                        "socket_connect_timeout": 5,
                        "socket_keepalive": True,
                    }
                ],
                "capacity": 1000,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 1000},
        }
    }
# A client's `typing` notices reach the other participant at most this often per thread.
WEBSOCKET_TYPING_INTERVAL = env.float("WEBSOCKET_TYPING_INTERVAL", default=2.0)
# Anything a client sends over its socket, at most this many per second; more are refused.
WEBSOCKET_MESSAGES_PER_SECOND = env.int("WEBSOCKET_MESSAGES_PER_SECOND", default=10)
# An open socket rechecks its account (exists, active, same password) this often, for
# changes the model's save did not announce (a queryset update, the layer unreachable).
WEBSOCKET_RECHECK_SECONDS = env.float("WEBSOCKET_RECHECK_SECONDS", default=60.0)

# Throttle counters live in the default cache. With REDIS_URL it is that Redis, so the
# limits hold across server processes; without it, each process's memory (N processes
# would allow N times the rate). An explicit CACHE_URL wins over both. A Redis that does
# not answer within a second lets the request through uncounted (chat_project/throttling.py)
# rather than holding it up.
if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache("CACHE_URL")}
elif REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "chat_project.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Django's Redis backend opens a connection per request under the ASGI server; this
# project's keeps one pool per process (chat_project/cache.py).
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "chat_project.cache.RedisCache"
# Deployments (or test runs) sharing one Redis database need different prefixes.
CACHES["default"].setdefault("KEY_PREFIX", env.str("CACHE_KEY_PREFIX", default="chat"))

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Files served at the site's root: /favicon.ico, which browsers ask for by themselves (the
# chat page's icon, webapp/static/webapp/favicon.svg, as an ICO).
WHITENOISE_ROOT = BASE_DIR / "chat_project" / "root"
# Uploaded files (attachments) are kept through the "default" storage: files under
# MEDIA_ROOT, or an S3-compatible bucket when AWS_STORAGE_BUCKET_NAME is set. They are
# never served as public files (no MEDIA_URL route): only the attachment endpoints hand
# them out, to the thread's participants (threads/views.py).
MEDIA_ROOT = Path(env.str("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "chat_project.storage.StaticFilesStorage"},
}
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    # django-storages' S3 backend (AWS S3, MinIO, Ceph, moto...). Credentials come from
    # boto3's own chain: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY in the environment, a
    # profile, or the machine's role. Objects stay private; downloads redirect to URLs
    # signed for AWS_QUERYSTRING_EXPIRE seconds.
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "addressing_style": env.str("AWS_S3_ADDRESSING_STYLE", default="") or None,
            "location": env.str("AWS_LOCATION", default=""),
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=60),
            "signature_version": "s3v4",
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }

# --- REST API ---------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "users.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
    ],
    # DRF's JSONRenderer's bytes, written faster (chat_project/renderers.py).
    "DEFAULT_RENDERER_CLASSES": ["chat_project.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["chat_project.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "chat_project.pagination.LimitOffsetPagination",
    "PAGE_SIZE": env.int("API_PAGE_SIZE", default=20),
    "DEFAULT_SCHEMA_CLASS": "chat_project.schema.ChatAutoSchema",
    "EXCEPTION_HANDLER": "chat_project.errors.api_exception_handler",
    # Rates per scope ("N/second|minute|hour|day"); the throttles are in chat_project/throttling.py.
    "DEFAULT_THROTTLE_RATES": {
        "auth": env.str("THROTTLE_AUTH_RATE", default="20/minute"),
        "message_post": env.str("THROTTLE_MESSAGE_POST_RATE", default="60/minute"),
        "write": env.str("THROTTLE_WRITE_RATE", default="120/minute"),
    },
    # Every change an authenticated user makes counts toward `write`; views that declare
    # their own throttles (logins, message posting) replace it.
    "DEFAULT_THROTTLE_CLASSES": ["chat_project.throttling.WriteRateThrottle"],
    # Client addresses for per-IP throttling come from REMOTE_ADDR unless the deployment
    # says how many trusted proxies append to X-Forwarded-For; trusting the header blindly
    # would let any client pick a fresh address per request.
    "NUM_PROXIES": env.int("DJANGO_NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
if DEBUG:
    # The browsable API is a convenience for local development only.
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append(
        "rest_framework.renderers.BrowsableAPIRenderer"
    )

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_TOKEN_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_TOKEN_DAYS", default=7)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    # A refresh token works once: using it returns a new one and blacklists the old, so a
    # stolen refresh token stops working as soon as either party uses it.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # Tokens carry a fingerprint of the password hash: changing the password ends every
    # session that was opened with the old one.
    "CHECK_REVOKE_TOKEN": True,
    "TOKEN_OBTAIN_SERIALIZER": "users.tokens.LoginSerializer",
    "TOKEN_REFRESH_SERIALIZER": "users.tokens.RefreshSerializer",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Chat API",
    "DESCRIPTION": (
        "Private two-person chat threads over a REST API. Authenticate with "
        "`POST /api/token/` and send `Authorization: Bearer <access>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation has exactly one of these (chat_project/tests/test_schema.py); the
    # documentation pages list them in this order.
    "TAGS": [
        {
            "name": "Accounts",
            "description": "Sign up, log in and out (tokens, or a browser's cookie session), "
            "the requester's own account, its password, its deletion.",
        },
        {"name": "Users", "description": "The user directory: find whom to talk to."},
        {
            "name": "Threads",
            "description": "Two-person conversations, newest activity first, and what is "
            "unread in them.",
        },
        {
            "name": "Messages",
            "description": "A thread's history (pages by offset or by message id), sending, "
            "editing and deleting, and search.",
        },
        {
            "name": "Attachments",
            "description": "Files sent with messages: uploads, downloads and thumbnails.",
        },
        {"name": "Reactions", "description": "Emoji reactions to messages."},
        {
            "name": "Sync",
            "description": "Catching up after being away: every change since a cursor.",
        },
        {"name": "Blocks", "description": "Users the requester has blocked."},
    ],
    # Swagger UI and ReDoc assets are served from the sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "/favicon.ico",
    # Swagger UI's default `validatorUrl` is validator.swagger.io, where its validity badge
    # comes from (with the schema's URL): null, so that nothing ever asks another origin.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
}

# Longest message text the API accepts, in characters.
CHAT_MESSAGE_MAX_LENGTH = env.int("CHAT_MESSAGE_MAX_LENGTH", default=5000)

# Largest request body accepted, in bytes; a longer one is refused before it is parsed.
# 64 KiB holds the longest message (5,000 characters of 4-byte UTF-8, JSON-escaped) with room.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE", default=64 * 1024)

# Attachments. The largest file accepted, in bytes: the upload route alone takes bodies of
# that size (plus DATA_UPLOAD_MAX_MEMORY_SIZE for the multipart envelope), counted as they
# stream in (chat_project/http_guards.py, chat_project/uploads.py).
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
# Images larger than this many pixels (all frames of an animation together) are refused:
# decoding one takes about 4 bytes of memory per pixel.
ATTACHMENT_MAX_IMAGE_PIXELS = env.int("ATTACHMENT_MAX_IMAGE_PIXELS", default=50_000_000)
# Links in `url` and `thumbnail_url` work without a bearer token (an <img> cannot send
# one) for between this many seconds and twice as long: each stays the same for a period
# of this length, so browsers cache the file under it.
ATTACHMENT_URL_SECONDS = env.int("ATTACHMENT_URL_SECONDS", default=3600)

# Catch-up sync: each person's change log keeps this many days of changes (pruned by
# `manage.py changes_prune`, run daily); a client away longer loads everything again.
SYNC_RETENTION_DAYS = env.int("SYNC_RETENTION_DAYS", default=30)

# --- Security (production defaults; each one switchable for plain-HTTP trials) ----------

SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=not DEBUG)
# Start HSTS small and raise it once HTTPS is known to work everywhere (cookiecutter-django's
# advice): a long max-age cannot be taken back from browsers that have seen it.
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG
)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = env.bool("DJANGO_SECURE_CONTENT_TYPE_NOSNIFF", default=True)
X_FRAME_OPTIONS = "DENY"
# Behind a TLS-terminating proxy, trust its X-Forwarded-Proto header so that requests it
# received over HTTPS are not redirected again. Only enable when such a proxy sets it.
if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Prometheus metrics at /metrics (chat_project/metrics.py): open to loopback clients that
# no proxy passed on; from anywhere else only with `Authorization: Bearer <METRICS_TOKEN>`.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Logging: everything to stdout/stderr, the process manager collects it --------------

# Django logs each refused suspicious request on django.security.<exception class name>.
SUSPICIOUS_REQUEST_LOGGERS = [
    f"django.security.{name}"
    for name in [
        "DisallowedHost",
        "DisallowedRedirect",
        "DisallowedModelAdminLookup",
        "DisallowedModelAdminToField",
        "InvalidSessionKey",
        "RequestDataTooBig",
        "SuspiciousFileOperation",
        "SuspiciousMultipartForm",
        "SuspiciousOperation",
        "SuspiciousSession",
        "TooManyFieldsSent",
        "TooManyFilesSent",
    ]
]

# "json": one JSON object per line, with the request id and user id (chat_project/logs.py);
# the servers' own lines follow it too (gunicorn.conf.py, chat_project/devserver.py).
LOG_FORMAT = log_format(env.str("LOG_FORMAT", default="text"))
if LOG_FORMAT == "json":
    LOGGING_CONFIG = "chat_project.logs.configure_json_logging"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"()": "chat_project.logs.TextFormatter"},
        "json": {"()": "chat_project.logs.JsonFormatter"},
    },
    # A 4xx is logged as one WARNING line without a traceback (chat_project/logs.py).
    "filters": {
        "client_error": {"()": "chat_project.logs.ClientErrorFilter"},
        "single_line": {"()": "chat_project.logs.SingleLineFilter"},
        "bursts": {"()": "chat_project.logs.BurstFilter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        # Replaces Django's own "django" logger set-up, whose debug-only console handler
        # would print every warning a second time.
        "django": {"handlers": [], "propagate": True},
        # A logger's filters see only the records logged on it, not its children's: each
        # logger Django logs 4xx answers on is named.
        "django.request": {"filters": ["client_error"]},
        **{name: {"filters": ["client_error"]} for name in SUSPICIOUS_REQUEST_LOGGERS},
        # The connection pool's reconnect attempts during a database outage: one line per
        # burst and cause (refused, password, ...), on one line. In this order: the
        # bursts are told apart by their template, which single_line replaces.
        "psycopg.pool": {"filters": ["bursts", "single_line"]},
    },
}
