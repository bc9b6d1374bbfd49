"""The benchmark's floor views exist only under the benchmark's URLconf (bench/urls.py):
the project's settings and URLconf know nothing of them."""

import pytest

bench_urls = pytest.mark.urls("bench.urls")


def test_the_project_urlconf_has_no_floors(client):
    assert client.get("/bench-floor/unread/?user=1").status_code == 404


def test_the_project_settings_know_nothing_of_the_benchmark(settings):
    assert settings.ROOT_URLCONF == "chat_project.urls"
    assert not any("bench" in name.lower() for name in dir(settings._wrapped))


@bench_urls
def test_the_benchmark_urlconf_mounts_the_floors(client, db):
    assert client.get("/bench-floor/unread/?user=1").json() == {"unread_count": 0}
