import io
import json
import logging

import pytest

from chat_project.logs import JsonFormatter


@pytest.fixture
def json_log():
    """What the application logs during the test, written as LOG_FORMAT=json writes it:
    a function returning the lines so far, each parsed (a line that is not one JSON
    object fails the test)."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)

    def lines() -> list[dict]:
        return [json.loads(line) for line in output.getvalue().splitlines()]

    try:
        yield lines
    finally:
        root.removeHandler(handler)
