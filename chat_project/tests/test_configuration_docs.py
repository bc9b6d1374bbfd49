"""Every setting read from the environment is documented in .env.example and the README."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def variables_read_by_settings() -> set[str]:
    source = (ROOT / "chat_project" / "settings.py").read_text()
    return set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', source))


def test_settings_read_some_variables():
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL"} <= variables_read_by_settings()


def test_every_variable_is_in_env_example():
    documented = set(re.findall(r"^# ([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))

    assert variables_read_by_settings() - documented == set()


def test_every_variable_is_in_the_readme_configuration_table():
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", (ROOT / "README.md").read_text(), re.M))

    assert variables_read_by_settings() - documented == set()
