"""Settings of the benchmark server (bench/load.py, bench/handlers.py, bench/breakdown.py):
the project's own, with the raw-SQL floor views of bench/floors.py mounted at
/bench-floor/ (bench/urls.py). The project's settings and URLconf know nothing of them.

    DJANGO_SETTINGS_MODULE=bench.settings

The floors query through a database connection of their own (`floor`, the same database).
On PostgreSQL it plans their prepared statements once (plan_cache_mode
force_generic_plan): left to choose, PostgreSQL planned some of them afresh on every run
(a 1-row or 20-row thread list: 3 to 9 ms of planning its joins each time), which made
a floor slower than the API it is the floor of. The API's connection is left as the
project configures it.
"""

import copy

from chat_project.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

DATABASES["floor"] = copy.deepcopy(DATABASES["default"])  # noqa: F405
if DATABASES["floor"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    DATABASES["floor"]["OPTIONS"]["options"] = "-c plan_cache_mode=force_generic_plan"  # noqa: F405
