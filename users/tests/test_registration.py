import pytest

REGISTER = "/api/user/register/"

pytestmark = pytest.mark.django_db


def test_register_creates_user_and_returns_id_and_username(anon_client):
    response = anon_client.post(
        REGISTER, {"username": "tester", "password": "superstrongpassword"}, format="json"
    )

    assert response.status_code == 201
    assert set(response.data) == {"id", "username"}
    assert response.data["username"] == "tester"
    assert "superstrongpassword" not in response.content.decode()


def test_registered_user_can_log_in(anon_client):
    anon_client.post(REGISTER, {"username": "tester", "password": "superstrongpassword"})

    response = anon_client.post(
        "/api/token/", {"username": "tester", "password": "superstrongpassword"}, format="json"
    )

    assert response.status_code == 200
    assert {"access", "refresh"} <= set(response.data)


def test_register_without_trailing_slash(anon_client):
    response = anon_client.post(
        "/api/user/register",
        {"username": "tester", "password": "superstrongpassword"},
        format="json",
    )

    assert response.status_code == 201


def test_register_taken_username_is_400(anon_client, alice):
    response = anon_client.post(
        REGISTER, {"username": "alice", "password": "superstrongpassword"}, format="json"
    )

    assert response.status_code == 400
    assert "username" in response.data


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "too short"),
        ("password", "too common"),
        ("83749201938475", "entirely numeric"),
        ("tester-tester", "too similar"),
    ],
)
def test_register_weak_password_is_400(anon_client, password, reason):
    response = anon_client.post(
        REGISTER, {"username": "tester-tester", "password": password}, format="json"
    )

    assert response.status_code == 400
    assert reason in " ".join(response.data["password"])


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"username": "tester"},
        {"password": "superstrongpassword"},
        {"username": "", "password": "superstrongpassword"},
        {"username": "bad name!", "password": "superstrongpassword"},
        {"username": "x" * 151, "password": "superstrongpassword"},
        {"username": ["tester"], "password": "superstrongpassword"},
        {"username": "tester", "password": 12345678901},
    ],
)
def test_register_bad_fields_are_400_with_field_errors(anon_client, body):
    response = anon_client.post(REGISTER, body, format="json")

    assert response.status_code == 400
    assert set(response.data) <= {"username", "password"}
    assert response.data


def test_register_malformed_json_is_400(anon_client):
    response = anon_client.post(REGISTER, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert "detail" in response.data


def test_register_json_that_is_not_an_object_is_400(anon_client):
    response = anon_client.post(REGISTER, ["tester"], format="json")

    assert response.status_code == 400
    assert "non_field_errors" in response.data


def test_register_ignores_a_stale_token(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    response = anon_client.post(
        REGISTER, {"username": "tester", "password": "superstrongpassword"}, format="json"
    )

    assert response.status_code == 201


@pytest.mark.parametrize("name", ["ALICE", "Alice", "aLiCe"])
def test_register_a_name_taken_in_another_case_is_400(anon_client, alice, name):
    response = anon_client.post(REGISTER, {"username": name, "password": "superstrongpassword"})

    assert response.status_code == 400
    assert response.data == {"username": ["A user with that username already exists."]}


@pytest.mark.parametrize("name", ["аlice", "Émile", "名前", "bob\u200b"])
def test_usernames_are_ascii_so_nobody_can_pass_for_someone_else(anon_client, name):
    response = anon_client.post(REGISTER, {"username": name, "password": "superstrongpassword"})

    assert response.status_code == 400
    assert "username" in response.data
