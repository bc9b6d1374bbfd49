"""The production server (`make serve`: gunicorn with this project's uvicorn workers) as
a client and an operator meet it: what it answers before Django sees a request, and what
it logs when it starts and stops. These run the real server on a free loopback port."""

import signal
import socket
import time

import pytest

from scripts.liveserver import free_port, production_env, start_server, stop

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


def first_line_answered(port: int, request: str) -> tuple[bytes, float]:
    """The status line the server answers `request` with, and how long it took."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        started = time.monotonic()
        connection.sendall(request.encode())
        answer = connection.recv(200)
        return answer.split(b"\r\n", 1)[0], time.monotonic() - started


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
