"""Settings of the benchmark server (bench/load.py, bench/handlers.py, bench/breakdown.py):
the project's own, with the raw-SQL floor views of bench/floors.py mounted at
/bench-floor/ (bench/urls.py). The project's settings and URLconf know nothing of them.

    DJANGO_SETTINGS_MODULE=bench.settings
"""

from chat_project.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
