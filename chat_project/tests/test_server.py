"""The servers as a client and an operator meet them: `make serve` (gunicorn with this
project's uvicorn workers) and `make run` (chat_project/devserver.py): what they answer
before Django sees a request, and what they log when they start and stop. These run the
real servers on free loopback ports."""

import json
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from scripts.liveserver import (
    PYTHON,
    ROOT,
    free_port,
    migrate,
    production_env,
    start_server,
    stop,
    wait_until_listening,
)

HANDSHAKE = (
    "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A production server with one worker; its log is read after it stops."""
    work = tmp_path_factory.mktemp("server")
    log = work / "server.log"
    port = free_port()
    env = production_env(DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}")
    process = start_server(env, port=port, workers=1, log=log)
    try:
        yield port, process, log
    finally:
        stop(process)


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory):
    """`make run`'s server: debug on, restarting on code changes."""
    work = tmp_path_factory.mktemp("devserver")
    port = free_port()
    env = production_env(DJANGO_DEBUG="1", DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}")
    command = [PYTHON, "-m", "chat_project.devserver", "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        wait_until_listening(process, port)
        yield port
    finally:
        stop(process)


def first_line_answered(port: int, request: str) -> tuple[bytes, float]:
    """The status line the server answers `request` with, and how long it took."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        started = time.monotonic()
        connection.sendall(request.encode())
        answer = connection.recv(200)
        return answer.split(b"\r\n", 1)[0], time.monotonic() - started


MALFORMED_MULTIPART = (
    "POST /api/user/register/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    "Content-Type: multipart/form-data\r\nContent-Length: 1\r\n\r\nx"
)


@pytest.mark.parametrize("which", ["server", "dev_server"])
def test_a_multipart_body_on_a_json_endpoint_is_415_on_both_servers(which, request):
    # `manage.py runserver` (Daphne) answered this with a bare 400 and no body.
    port = request.getfixturevalue(which)
    if which == "server":
        port = port[0]

    status, _ = first_line_answered(port, MALFORMED_MULTIPART)

    assert status == b"HTTP/1.1 415 Unsupported Media Type"


def test_a_websocket_handshake_is_accepted(server):
    port, _, _ = server

    status, _ = first_line_answered(port, HANDSHAKE.format(path="/ws/", headers=""))

    assert status == b"HTTP/1.1 101 Switching Protocols"


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/ws/?token=" + "a" * 20_000, "", b"HTTP/1.1 414 Request-URI Too Long"),
        (
            "/ws/",
            "X-Big: " + "b" * 20_000 + "\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large",
        ),
        ("/ws/", "".join(f"X-H{i}: v\r\n" for i in range(300)), b"HTTP/1.1 431"),
    ],
    ids=["long-url", "long-header", "many-headers"],
)
def test_an_oversized_websocket_handshake_is_refused_at_once(server, path, headers, status):
    # It used to wait, unanswered, until the client gave up.
    port, _, _ = server

    answered, seconds = first_line_answered(port, HANDSHAKE.format(path=path, headers=headers))

    assert answered.startswith(status)
    assert seconds < 2


def test_the_server_starts_and_stops_without_warnings_or_errors(server):
    port, process, log = server
    socket.create_connection(("127.0.0.1", port), timeout=5).close()

    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)

    output = log.read_text()
    assert "Shutting down: Master" in output
    assert "Deprecat" not in output  # a deprecated WebSocket implementation, per worker
    assert "Error while closing socket" not in output  # the listener closed twice
    assert "Traceback" not in output


def call(port: int, method: str, path: str, data=None, headers=None) -> tuple[int, dict, dict]:
    """The status, headers and JSON body of a request to the server on `port`."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(data).encode() if data is not None else None,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        # Generous: a registration hashes a password, slow on a machine busy with the
        # rest of the suite (5 s was missed once in CI); a hang still fails.
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


def test_with_log_format_json_every_line_the_server_writes_is_one_json_object(tmp_path):
    log = tmp_path / "server.log"
    port = free_port()
    env = production_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", LOG_FORMAT="json")
    migrate(env)
    process = start_server(env, port=port, workers=1, log=log)
    try:
        account = {"username": "logged", "password": "a long enough password 42"}
        call(port, "POST", "/api/user/register/", account)
        _, _, tokens = call(port, "POST", "/api/token/", account)
        bearer = {"Authorization": f"Bearer {tokens['access']}", "X-Request-ID": "follow-me"}
        status, headers, me = call(port, "GET", "/api/user/me/", headers=bearer)
        missing, _, _ = call(port, "GET", "/no/such/page", headers={"X-Request-ID": "lost-1"})
        bad_host, _, _ = call(port, "GET", "/api/threads/", headers={"Host": "attacker.example"})
        socket_headers = "X-Request-ID: socket-1\r\n"
        handshake = HANDSHAKE.format(path=f"/ws/?token={tokens['access']}", headers=socket_headers)
        upgraded, _ = first_line_answered(port, handshake)
    finally:
        stop(process)

    assert (status, headers["x-request-id"], missing, bad_host) == (200, "follow-me", 404, 400)
    assert upgraded == b"HTTP/1.1 101 Switching Protocols"
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    for line in lines:
        assert {"time", "level", "logger", "message", "request_id", "user_id"} <= line.keys()
    by_request = {}
    for line in lines:
        by_request.setdefault(line["request_id"], []).append(line)
    [access] = by_request["follow-me"]
    assert access["logger"] == "uvicorn.access"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/api/user/me/", 200)
    assert access["user_id"] == me["id"]
    assert access["duration_ms"] >= 0
    [warning, access] = by_request["lost-1"]
    assert (warning["logger"], warning["message"]) == ("django.request", "Not Found: /no/such/page")
    assert (access["status"], access["user_id"]) == (404, None)
    accepted = [line for line in by_request["socket-1"] if "[accepted]" in line["message"]]
    assert accepted[0]["user_id"] == me["id"]
    assert "[redacted]" in accepted[0]["message"]
    assert tokens["access"] not in log.read_text()
    messages = [line["message"] for line in lines]
    assert "Shutting down: Master" in messages


def test_with_log_format_json_every_line_the_dev_server_writes_is_one_json_object(tmp_path):
    log = tmp_path / "devserver.log"
    port = free_port()
    env = production_env(
        DJANGO_DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", LOG_FORMAT="json"
    )
    command = [PYTHON, "-m", "chat_project.devserver", "--port", str(port)]
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=output)
    try:
        wait_until_listening(process, port, log)
        refused, headers, _ = call(port, "GET", "/api/threads/", headers={"X-Request-ID": "dev-1"})
    finally:
        stop(process)

    assert (refused, headers["x-request-id"]) == (401, "dev-1")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert {line["logger"] for line in lines if line["request_id"] == "dev-1"} == {
        "django.request",
        "uvicorn.access",
    }
    assert "Started reloader process" in " ".join(line["message"] for line in lines)
