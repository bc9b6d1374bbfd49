"""/metrics under the real servers: `make serve`'s gunicorn with two worker processes, whose
figures a scrape adds up whichever worker answers it, and `make run`'s single process.
These run the servers on free loopback ports (as test_server.py does)."""

import http.client
import os
import signal
import subprocess
import time

import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from chat_project.tests.test_metrics import Scrape
from scripts.liveserver import (
    PYTHON,
    ROOT,
    free_port,
    production_env,
    start_server,
    stop,
    wait_until_listening,
)

UNMATCHED = {"route": "<unmatched>", "method": "GET", "status": "4xx"}


def get(port: int, path: str) -> tuple[int, bytes]:
    """GET on a connection of its own: each is accepted by whichever worker is first."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def scrape(port: int) -> Scrape:
    status, body = get(port, "/metrics")
    assert status == 200
    return Scrape(body.decode())


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    work = tmp_path_factory.mktemp("metrics-server")
    metrics_dir = work / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_999999.db").write_bytes(b"left by an earlier run")
    env = production_env(
        DATABASE_URL=f"sqlite:///{work / 'db.sqlite3'}", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)
    )
    env.pop("REDIS_URL", None)  # nothing here needs events between the workers
    port = free_port()
    process = start_server(env, port=port, workers=2, log=work / "server.log")
    try:
        yield port, metrics_dir
    finally:
        stop(process)


def unmatched_per_worker(metrics_dir) -> dict[int, float]:
    """Each worker's own count of unmatched GETs, read from its file."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        families = MultiProcessCollector.merge([str(path)], accumulate=False)
        counts[int(path.stem.split("_")[1])] = sum(
            sample.value
            for family in families
            for sample in family.samples
            if sample.name == "chat_http_requests_total"
            and UNMATCHED.items() <= sample.labels.items()
        )
    return counts


def test_a_scrape_adds_up_every_workers_requests(two_workers):
    port, metrics_dir = two_workers
    assert 999999 not in unmatched_per_worker(metrics_dir)  # emptied at the start
    sent = 0
    # Until both workers have served some (the kernel picks which accepts a connection).
    while sent < 200:
        assert get(port, "/no/such/page")[0] == 404
        sent += 1
        counts = unmatched_per_worker(metrics_dir)
        if len([count for count in counts.values() if count]) == 2:
            break

    assert sorted(count > 0 for count in counts.values()) == [True, True]
    assert sum(counts.values()) == sent
    # Whichever worker answers, the scrape has the total.
    for _ in range(6):
        assert scrape(port).value("chat_http_requests_total", **UNMATCHED) == sent


def test_a_dead_workers_counts_stay_and_its_gauges_go(two_workers):
    port, metrics_dir = two_workers
    before = scrape(port).value("chat_http_requests_total", **UNMATCHED)
    [worker, *_] = sorted(unmatched_per_worker(metrics_dir))
    assert (metrics_dir / f"gauge_liveall_{worker}.db").exists()

    os.kill(worker, signal.SIGKILL)  # one of this test's server's workers
    deadline = time.monotonic() + 15
    while (metrics_dir / f"gauge_liveall_{worker}.db").exists() and time.monotonic() < deadline:
        time.sleep(0.1)

    assert not (metrics_dir / f"gauge_liveall_{worker}.db").exists()
    assert not (metrics_dir / f"gauge_livesum_{worker}.db").exists()
    assert scrape(port).value("chat_http_requests_total", **UNMATCHED) == before


def test_the_development_server_reports_its_one_process(tmp_path):
    port = free_port()
    env = production_env(DJANGO_DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [PYTHON, "-m", "chat_project.devserver", "--port", str(port), "--no-reload"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        wait_until_listening(process, port)
        get(port, "/no/such/page")
        get(port, "/no/such/page")

        metrics = scrape(port)
    finally:
        stop(process)

    assert metrics.value("chat_http_requests_total", **UNMATCHED) == 2
    assert metrics.value("chat_websocket_connections") == 0
