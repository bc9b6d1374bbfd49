"""The OpenAPI schema and its documentation pages."""

import re
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/schema/", "/api/schema"])
def test_schema_is_served_without_a_token(anon_client, path):
    response = anon_client.get(path, HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/threads/{id}/messages/" in schema["paths"]
    assert "jwtAuth" in schema["components"]["securitySchemes"]


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/", "/api/docs", "/api/redoc"])
def test_documentation_pages_load_with_local_assets(anon_client, path):
    response = anon_client.get(path)

    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in page
    # Nothing loaded from another origin. (Not a search for "cdn": the page carries a random
    # token, which spelled it once in a few hundred runs.)
    assert re.findall(r"""(?:src|href)\s*=\s*["'](?:[a-z]+:)?//[^"']*""", page, re.I) == []


def test_the_root_leads_to_the_chat_page(anon_client):
    response = anon_client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/app/"


def test_committed_schema_is_current(tmp_path):
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--file", str(generated), "--validate", "--fail-on-warn")

    committed = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text())

    assert yaml.safe_load(generated.read_text()) == committed, (
        "docs/openapi.yaml is out of date: run `make schema` and commit it"
    )
