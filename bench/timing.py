"""Timing of in-process calls for the bench scripts."""

import statistics
import time
from collections.abc import Callable


def median_seconds(call: Callable[[], object], *, calls: int, warm_up: int) -> float:
    """The median wall time of `calls` calls of `call`, after `warm_up` calls untimed
    (past psycopg's prepare threshold, caches warm)."""
    for _ in range(warm_up):
        call()
    samples = []
    for _ in range(calls):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)
