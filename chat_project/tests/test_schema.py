"""The OpenAPI schema and its documentation pages."""

import gzip
import re
from pathlib import Path

import jsonschema
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
    # Swagger UI's from the sidecar's static files; ReDoc's from its page (`?bundle`).
    scripts = re.findall(r'<script src="([^"]+)"', page)
    assert scripts
    assert all(src.startswith("/") and not src.startswith("//") for src in scripts)
    # Nothing loaded from another origin. (Not a search for "cdn": the page carries a random
    # token, which spelled it once in a few hundred runs.)
    assert re.findall(r"""(?:src|href)\s*=\s*["'](?:[a-z]+:)?//[^"']*""", page, re.I) == []


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/", "/api/redoc/?bundle"])
@pytest.mark.parametrize("method", ["options", "post"])
def test_documentation_pages_are_only_read(anon_client, path, method):
    assert getattr(anon_client, method)(path).status_code == 405


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


# --- What a reader of the documentation finds ---------------------------------------------

TAGS = ["Accounts", "Users", "Threads", "Messages", "Attachments", "Reactions", "Sync", "Blocks"]
METHODS = {"get", "post", "put", "patch", "delete"}
JWT = re.compile(r"^eyJ[\w-]+\.eyJ[\w-]+\.[\w-]{43}$")


@pytest.fixture
def schema(anon_client) -> dict:
    return anon_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def operations(schema: dict) -> list[tuple[str, dict]]:
    return [
        (f"{method.upper()} {path}", operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def examples_of(operation: dict) -> list[tuple[str, dict]]:
    """The request body's examples and the 2xx responses' ones: (schema, example value)."""
    contents = list(operation.get("requestBody", {}).get("content", {}).values())
    contents += [
        content
        for status, response in operation["responses"].items()
        if status.startswith("2")
        for content in response.get("content", {}).values()
    ]
    return [
        (content["schema"], example["value"])
        for content in contents
        for example in content.get("examples", {}).values()
    ]


def test_tags_are_declared_in_order_each_with_a_description(schema):
    assert [tag["name"] for tag in schema["tags"]] == TAGS
    assert all(tag["description"] for tag in schema["tags"])


def test_every_operation_has_one_tag_a_summary_and_a_description(schema):
    for name, operation in operations(schema):
        assert len(operation.get("tags", [])) == 1, name
        assert operation["tags"][0] in TAGS, name
        assert operation.get("summary"), name
        assert len(operation["summary"]) <= 50, name  # a heading, not a sentence
        assert operation.get("description"), name


def test_every_operation_shows_an_example(schema):
    """A body or an answer, or, for those with neither (204, a file), an example request
    in the description."""
    for name, operation in operations(schema):
        assert examples_of(operation) or "Example:" in operation["description"], name


def nullable_to_json_schema(node):
    """OpenAPI 3.0's `nullable: true` as JSON Schema says it (jsonschema ignores it)."""
    if isinstance(node, list):
        return [nullable_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: nullable_to_json_schema(value) for key, value in node.items()}
    if converted.pop("nullable", False):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def test_every_example_has_the_shape_of_its_schema(schema):
    document = nullable_to_json_schema(schema)
    checked = 0
    for name, operation in operations(document):
        for body_schema, value in examples_of(operation):
            # Resolved against the whole document, for its $refs to components.
            validator = jsonschema.Draft7Validator({**document, **body_schema})
            errors = [error.message for error in validator.iter_errors(value)]
            assert errors == [], f"{name}: {errors}"
            checked += 1
    assert checked > 40


def test_login_examples_show_alice_and_real_looking_tokens(schema):
    login = schema["paths"]["/api/token/"]["post"]
    [request] = login["requestBody"]["content"]["application/json"]["examples"].values()
    [answer] = login["responses"]["200"]["content"]["application/json"]["examples"].values()

    assert request["value"]["username"] == "alice"
    assert len(request["value"]["password"]) >= 12
    assert set(answer["value"]) == {"access", "refresh"}
    assert all(JWT.match(token) for token in answer["value"].values())
    # The legacy path shows the same login.
    legacy = schema["paths"]["/token/refresh/"]["post"]["requestBody"]["content"]
    assert request in legacy["application/json"]["examples"].values()


def test_paged_list_examples_link_to_their_own_pages(schema):
    paged = {
        path: item["get"]["responses"]["200"]["content"]["application/json"]
        for path, item in schema["paths"].items()
        if "get" in item and "{" not in path
    }
    links = {
        path: next(iter(content["examples"].values()))["value"]["next"]
        for path, content in paged.items()
        if content["schema"].get("$ref", "").startswith("#/components/schemas/Paginated")
    }

    assert set(links) == {"/api/threads/", "/api/messages/", "/api/users/", "/api/user/blocks/"}
    for path, link in links.items():
        assert link == f"http://127.0.0.1:8000{path}?limit=1&offset=2"


def test_the_paged_example_is_what_the_api_answers(schema, alice_client, alice, bob, mallory):
    [example] = schema["paths"]["/api/users/"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]["examples"].values()

    page = alice_client.get("/api/users/?limit=1&offset=1", HTTP_HOST="127.0.0.1:8000").json()

    assert page["count"] == example["value"]["count"] == 3
    assert page["next"] == example["value"]["next"]
    assert page["previous"] == example["value"]["previous"]


def test_message_history_examples_show_each_way_of_paging(schema):
    content = schema["paths"]["/api/threads/{id}/messages/"]["get"]["responses"]["200"]["content"]
    summaries = [example["summary"] for example in content["application/json"]["examples"].values()]

    assert [summary.split(":")[0] for summary in summaries] == [
        "?limit=2&offset=2",
        "?limit=2&before=4",
        "?limit=2&after=2",
        "?limit=2&around=first_unread",
    ]


def texts_of(node):
    """Every description and summary in the document (examples aside)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary") and isinstance(value, str):
                yield value
            elif key not in ("example", "examples"):
                yield from texts_of(value)
    elif isinstance(node, list):
        for item in node:
            yield from texts_of(item)


def test_no_text_holds_html_outside_code(schema):
    """Descriptions are Markdown: `<img>` outside backticks would be an image element."""
    for text in texts_of(schema):
        assert re.findall(r"<[a-z/][^>]*>", re.sub(r"`[^`]*`", "", text)) == [], text


# --- The documentation pages --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_documentation_pages_allow_scripts_and_connections_to_this_server_only(anon_client, path):
    policy = anon_client.get(path)["Content-Security-Policy"]

    directives = dict(directive.split(" ", 1) for directive in policy.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no inline script either
    assert directives["connect-src"] == "'self'"
    assert "http" not in policy  # no other origin anywhere


def test_redoc_bundle_is_served_without_the_logo_from_its_cdn(anon_client):
    page = anon_client.get("/api/redoc/").content.decode()
    [bundle_url] = re.findall(r'<script src="([^"]+)"', page)

    bundle = anon_client.get(bundle_url)

    assert bundle.status_code == 200
    assert bundle["Content-Type"].startswith("text/javascript")
    assert "immutable" in bundle["Cache-Control"]
    script = bundle.content.decode()
    assert "Redoc" in script
    assert "cdn.redoc.ly" not in script


@pytest.mark.parametrize(
    ("accept_encoding", "compressed"),
    [
        ("gzip, br", True),
        ("br;q=1.0, GZIP;q=0.5", True),
        ("*", True),
        ("gzip;q=0", False),
        ("identity, gzip;q=0", False),
        ("gzip;q=zero", False),
        ("br", False),
        ("", False),
    ],
)
def test_redoc_bundle_is_compressed_only_for_clients_that_take_gzip(
    anon_client, accept_encoding, compressed
):
    bundle_url = re.search(
        r'<script src="([^"]+)"', anon_client.get("/api/redoc/").content.decode()
    )

    response = anon_client.get(bundle_url[1], HTTP_ACCEPT_ENCODING=accept_encoding)

    assert (response.get("Content-Encoding") == "gzip") == compressed


def test_redoc_bundle_is_compressed_for_clients_that_take_gzip(anon_client):
    bundle_url = re.search(
        r'<script src="([^"]+)"', anon_client.get("/api/redoc/").content.decode()
    )

    plain = anon_client.get(bundle_url[1])
    compressed = anon_client.get(bundle_url[1], HTTP_ACCEPT_ENCODING="gzip, br")

    assert compressed["Content-Encoding"] == "gzip"
    assert gzip.decompress(compressed.content) == plain.content
    assert "Content-Encoding" not in plain


def test_the_site_has_a_favicon(anon_client):
    response = anon_client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file
