"""Fixtures of the browser tests: the real server, started as `make run` starts it, and
headless Chromium browsers to open the chat page in (helpers in webapp/tests/browser.py).

The server always has its own SQLite file, whatever database the suite runs on
(`make test-postgres`): the browser tests talk to it over HTTP only, never to the test
database.
"""

import contextlib
import os
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from scripts.liveserver import PYTHON, ROOT, free_port, stop

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

# Seconds the server may take to answer /readyz after it is started.
START_TIMEOUT = 30
# Lines of the server's log shown with a failed test, and after the run if one failed.
LOG_TAIL_LINES = 60
# What could reach the server from the environment the tests run in (`make test-scaleout`
# sets REDIS_URL, `make test-s3` a bucket) but must not: one process, memory and files only.
NOT_INHERITED = ("REDIS_URL", "CACHE_URL", "AWS_STORAGE_BUCKET_NAME", "AWS_S3_ENDPOINT_URL")
# Limits far above anything a test does: every test signs up and logs in from 127.0.0.1,
# and the server lives for the whole run. (Failed logins still go through django-axes.)
GENEROUS_LIMITS = {
    "THROTTLE_AUTH_RATE": "10000/minute",
    "THROTTLE_MESSAGE_POST_RATE": "10000/minute",
    "THROTTLE_WRITE_RATE": "10000/minute",
    "AXES_FAILURE_LIMIT": "10000",
}


@dataclass
class ChatServer:
    url: str
    log: Path
    failed: bool = False  # a test that used it failed


SERVER = pytest.StashKey[ChatServer]()
LOG_OFFSET = pytest.StashKey[int]()


def server_env(work: Path) -> dict[str, str]:
    """`make run`'s environment (debug on, the production settings module rather than the
    suite's), on a fresh SQLite file and media folder in `work`."""
    env = {name: value for name, value in os.environ.items() if name not in NOT_INHERITED}
    return {
        **env,
        "DJANGO_SETTINGS_MODULE": "chat_project.settings",
        "DJANGO_DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
        "DJANGO_MEDIA_ROOT": str(work / "media"),
        **GENEROUS_LIMITS,
    }


def log_tail(log: Path, offset: int = 0) -> str:
    """The last lines of the server's log, from `offset` bytes on."""
    with log.open("rb") as output:
        output.seek(offset)
        lines = output.read().decode(errors="replace").splitlines()
    return "\n".join(lines[-LOG_TAIL_LINES:])


def wait_until_ready(process: subprocess.Popen, url: str, log: Path) -> None:
    """Wait until the server answers /readyz: Django loaded, its database answering."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The chat server exited at start:\n{log_tail(log)}")
        ready = f"{url}/readyz"  # the http:// URL of our own server
        with contextlib.suppress(OSError), urllib.request.urlopen(ready, timeout=2):  # noqa: S310
            return  # urlopen raises for any answer but a 2xx
        time.sleep(0.1)
    raise RuntimeError(f"The chat server did not answer in {START_TIMEOUT} s:\n{log_tail(log)}")


@pytest.fixture(scope="session")
def chat_server(tmp_path_factory, pytestconfig) -> Iterator[str]:
    """The base URL (`http://127.0.0.1:PORT`) of the chat server, started once for the run
    (once per test process under pytest-xdist, each on a free port):
    chat_project.devserver with debug on and no reloader, the in-memory channel layer (one
    process, no Redis), a fresh SQLite database. Its output goes to server.log beside the
    database; a failed test shows what it logged meanwhile."""
    work = tmp_path_factory.mktemp("chat_server")
    env = server_env(work)
    log = work / "server.log"
    with log.open("w") as output:
        migrate = subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if migrate.returncode != 0:
        raise RuntimeError(f"migrate failed for the chat server:\n{log_tail(log)}")
    port = free_port()
    command = [PYTHON, "-m", "chat_project.devserver", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("a") as output:
        process = subprocess.Popen(
            [*command, "--no-reload"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = ChatServer(url=f"http://127.0.0.1:{port}", log=log)
    try:
        wait_until_ready(process, server.url, log)
        pytestconfig.stash[SERVER] = server
        yield server.url
    finally:
        stop(process)
        if SERVER in pytestconfig.stash:
            del pytestconfig.stash[SERVER]
        if server.failed:
            reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_sep("-", f"chat server log, last lines ({log})")
                reporter.write_line(log_tail(log))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    server = item.config.stash.get(SERVER, None)
    item.stash[LOG_OFFSET] = server.log.stat().st_size if server is not None else 0


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failed test that used the chat server shows what the server logged during it."""
    report = yield
    server = item.config.stash.get(SERVER, None)
    if report.failed and server is not None and "chat_server" in item.fixturenames:
        server.failed = True
        report.sections.append(
            ("chat server log", log_tail(server.log, item.stash.get(LOG_OFFSET, 0)))
        )
    return report


@pytest.fixture
def browser() -> Iterator[Callable[..., "WebDriver"]]:
    """`make_browser(width=1280, height=900)`: a new headless Chromium (a Selenium
    WebDriver) at each call, several per test if need be (one per user); all quit after
    the test."""
    # Imported here: the helpers skip the test module importing them without a browser,
    # and this conftest must load anyway.
    from webapp.tests.browser import new_chrome

    with contextlib.ExitStack() as drivers:

        def make_browser(width: int = 1280, height: int = 900) -> "WebDriver":
            driver = new_chrome(width=width, height=height)
            drivers.callback(driver.quit)
            return driver

        yield make_browser
