"""Configuration from the environment, with safe production defaults.

These start a fresh `manage.py` process, because settings are read once at start-up.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG_SECRET = "k3y-" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789" * 2


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    clean.pop("DATABASE_URL", None)
    clean["DJANGO_SETTINGS_MODULE"] = "chat_project.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_debug_runs_without_a_secret_key():
    result = manage("check", DJANGO_DEBUG="1")

    assert result.returncode == 0, result.stderr


def test_deploy_check_is_clean_with_production_defaults():
    result = manage("check", "--deploy", "--fail-level", "WARNING", DJANGO_SECRET_KEY=STRONG_SECRET)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value", "warning"),
    [
        ("DJANGO_SECURE_SSL_REDIRECT", "0", "security.W008"),
        ("DJANGO_SECURE_HSTS_SECONDS", "0", "security.W004"),
        ("DJANGO_SESSION_COOKIE_SECURE", "0", "security.W012"),
        ("DJANGO_CSRF_COOKIE_SECURE", "0", "security.W016"),
        ("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", "0", "security.W005"),
        ("DJANGO_SECURE_HSTS_PRELOAD", "0", "security.W021"),
        ("DJANGO_DEBUG", "1", "security.W018"),
    ],
)
def test_each_safety_default_can_be_switched_off(variable, value, warning):
    result = manage("check", "--deploy", DJANGO_SECRET_KEY=STRONG_SECRET, **{variable: value})

    assert warning in result.stderr


def test_default_database_is_sqlite_in_the_project_root():
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; d = s.DATABASES['default'];"
        "print(d['ENGINE'], d['NAME'], d['OPTIONS']['transaction_mode'])",
        DJANGO_DEBUG="1",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == (
        f"django.db.backends.sqlite3 {ROOT / 'db.sqlite3'} IMMEDIATE"
    )


def test_settings_read_from_the_environment():
    code = (
        "from django.conf import settings as s;"
        "print(s.DEBUG, s.ALLOWED_HOSTS, s.DATABASES['default']['NAME'],"
        " s.SECURE_PROXY_SSL_HEADER, s.CHAT_MESSAGE_MAX_LENGTH)"
    )
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        code,
        DJANGO_SECRET_KEY=STRONG_SECRET,
        DJANGO_ALLOWED_HOSTS="chat.example.com,api.example.com",
        DATABASE_URL="sqlite:////tmp/elsewhere.sqlite3",
        DJANGO_SECURE_PROXY_SSL_HEADER="1",
        CHAT_MESSAGE_MAX_LENGTH="100",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == (
        "False ['chat.example.com', 'api.example.com'] /tmp/elsewhere.sqlite3 "
        "('HTTP_X_FORWARDED_PROTO', 'https') 100"
    )


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("sqlite:////tmp/elsewhere.sqlite3", "None"),
        ("sqlite:////tmp/x.sqlite3?conn_max_age=60", "60"),
    ],
)
def test_sqlite_connections_are_kept_between_requests_unless_the_url_says(url, kept):
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings as s; print(s.DATABASES['default']['CONN_MAX_AGE'])",
        DJANGO_DEBUG="1",
        DATABASE_URL=url,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == kept
