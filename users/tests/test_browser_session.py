"""Browser sessions: a browser logs in at /api/session/ and keeps its refresh token in an
HttpOnly cookie its scripts cannot read; the cookie rotates on refresh, and logging out or
changing the password ends the session. Pages of other origins are refused."""

from datetime import timedelta

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from users.browser_session import SESSION_REFRESH_COOKIE
from users.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/api/session/"
REFRESH = "/api/session/refresh/"
LOGOUT = "/api/session/logout/"
SESSION_PATHS = [LOGIN, REFRESH, LOGOUT]
CREDENTIALS = {"username": "alice", "password": DEFAULT_PASSWORD}
SEVEN_DAYS = int(timedelta(days=7).total_seconds())  # the default JWT_REFRESH_TOKEN_DAYS
THIS_SITE = "http://testserver"  # the test client's own scheme and host
LOCKOUT_LIMIT = 5  # the default AXES_FAILURE_LIMIT


@pytest.fixture
def browser(alice) -> APIClient:
    """Alice's browser, logged in: it holds the session cookie (and the access token)."""
    client = APIClient()
    response = client.post(LOGIN, CREDENTIALS)
    assert response.status_code == 200
    client.access = response.data["access"]
    return client


def cookie_of(client: APIClient) -> str:
    """The session cookie the client would send now ('' once deleted)."""
    return client.cookies[SESSION_REFRESH_COOKIE].value


def set_attributes(response) -> dict:
    morsel = response.cookies[SESSION_REFRESH_COOKIE]
    return {attribute: value for attribute, value in morsel.items() if value}


def assert_cookie_deleted(response) -> None:
    """The answer deletes the cookie: the same name and path, empty, expired now."""
    morsel = response.cookies[SESSION_REFRESH_COOKIE]
    assert morsel.value == ""
    assert morsel["max-age"] == 0
    assert morsel["path"] == LOGIN


def test_login_sets_the_refresh_token_in_a_strict_httponly_secure_cookie(anon_client, alice):
    response = anon_client.post(LOGIN, CREDENTIALS)

    assert response.status_code == 200
    assert response.json() == {"access": response.data["access"]}  # no refresh in the body
    attributes = set_attributes(response)
    assert attributes.pop("expires")  # Django adds it from Max-Age, for old browsers
    assert attributes == {
        "httponly": True,
        "secure": True,
        "samesite": "Strict",
        "path": "/api/session/",
        "max-age": SEVEN_DAYS,
    }
    token = RefreshToken(response.cookies[SESSION_REFRESH_COOKIE].value)
    assert token["user_id"] == str(alice.pk)


def test_the_access_token_answered_works_on_the_api(browser):
    browser.credentials(HTTP_AUTHORIZATION=f"Bearer {browser.access}")

    response = browser.get("/api/user/me/")

    assert response.status_code == 200
    assert response.data["username"] == "alice"


def test_a_wrong_password_is_the_same_401_as_the_token_endpoints(anon_client, alice):
    wrong = {"username": "alice", "password": "not-her-password"}

    response = anon_client.post(LOGIN, wrong)

    token_endpoint = anon_client.post("/api/token/", wrong)
    assert response.status_code == 401
    assert response.content == token_endpoint.content
    assert response["WWW-Authenticate"] == token_endpoint["WWW-Authenticate"]
    assert SESSION_REFRESH_COOKIE not in response.cookies


def test_the_login_lockout_counts_failures_at_either_login(anon_client, alice):
    for n in range(LOCKOUT_LIMIT):
        anon_client.post("/api/token/", {"username": "alice", "password": f"guess-{n}"})

    response = anon_client.post(LOGIN, CREDENTIALS)

    assert response.status_code == 429
    assert response.data["code"] == "locked_out"
    assert SESSION_REFRESH_COOKIE not in response.cookies


def test_session_logins_share_the_login_rate_limit(settings, anon_client, alice):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"auth": "2/minute"},
    }
    anon_client.post("/api/token/", CREDENTIALS)
    anon_client.post("/api/token/", CREDENTIALS)

    assert anon_client.post(LOGIN, CREDENTIALS).status_code == 429


def test_refresh_rotates_the_cookie_and_the_old_one_is_refused(browser):
    old = cookie_of(browser)

    response = browser.post(REFRESH)

    assert response.status_code == 200
    assert set(response.json()) == {"access"}
    assert set_attributes(response)["max-age"] == SEVEN_DAYS
    new = cookie_of(browser)
    assert new not in ("", old)
    stale = APIClient()
    stale.cookies[SESSION_REFRESH_COOKIE] = old
    refused = stale.post(REFRESH, {})
    assert refused.status_code == 401
    assert refused.json() == {"detail": "Token is blacklisted", "code": "token_not_valid"}
    assert browser.post(REFRESH, {}).status_code == 200  # the new one goes on


def test_refresh_without_a_cookie_is_401_and_deletes_the_cookie(anon_client):
    response = anon_client.post(REFRESH)

    assert response.status_code == 401
    assert response.json() == {
        "detail": "No session cookie: log in with POST /api/session/.",
        "code": "not_authenticated",
    }
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert_cookie_deleted(response)


@pytest.mark.parametrize("kind", ["garbage", "access token", "expired"])
def test_refresh_with_a_cookie_that_is_no_refresh_token_is_401_and_deletes_it(alice, kind):
    token = RefreshToken.for_user(alice)
    if kind == "expired":
        token.set_exp(lifetime=-timedelta(seconds=1))
    cookie = {"garbage": "garbage", "access token": str(token.access_token)}.get(kind, str(token))
    client = APIClient()
    client.cookies[SESSION_REFRESH_COOKIE] = cookie

    response = client.post(REFRESH)

    assert response.status_code == 401
    assert response.data["code"] == "token_not_valid"
    assert_cookie_deleted(response)


def test_logout_revokes_the_session_and_deletes_the_cookie(browser):
    cookie = cookie_of(browser)

    response = browser.post(LOGOUT)

    assert response.status_code == 204
    assert response.content == b""
    assert_cookie_deleted(response)
    assert browser.post(REFRESH).status_code == 401  # the browser has no cookie left...
    kept = APIClient()
    kept.cookies[SESSION_REFRESH_COOKIE] = cookie
    assert kept.post(REFRESH).status_code == 401  # ...and a copy of it is revoked


def test_logging_out_twice_or_with_a_dead_cookie_is_fine(browser):
    cookie = cookie_of(browser)
    browser.post(LOGOUT, {})

    again = browser.post(LOGOUT, {})
    browser.cookies[SESSION_REFRESH_COOKIE] = cookie  # revoked already
    with_a_revoked_cookie = browser.post(LOGOUT)

    assert again.status_code == 204
    assert with_a_revoked_cookie.status_code == 204
    assert_cookie_deleted(with_a_revoked_cookie)


def test_logout_leaves_other_sessions_alone(browser, alice):
    other_browser = APIClient()
    other_browser.post(LOGIN, CREDENTIALS)
    pair = APIClient().post("/api/token/", CREDENTIALS).data

    browser.post(LOGOUT)

    assert other_browser.post(REFRESH).status_code == 200
    assert APIClient().post("/api/token/refresh/", {"refresh": pair["refresh"]}).status_code == 200


def test_logging_in_again_replaces_the_session(browser):
    previous = cookie_of(browser)

    browser.post(LOGIN, CREDENTIALS)

    assert cookie_of(browser) != previous
    stale = APIClient()
    stale.cookies[SESSION_REFRESH_COOKIE] = previous
    assert stale.post(REFRESH).status_code == 401
    assert browser.post(REFRESH).status_code == 200


def test_a_password_change_ends_the_cookie_session(browser):
    browser.credentials(HTTP_AUTHORIZATION=f"Bearer {browser.access}")
    changed = browser.post(
        "/api/user/password/",
        {"current_password": DEFAULT_PASSWORD, "new_password": "a-brand-new-passphrase-7"},
    )
    assert changed.status_code == 200
    browser.credentials()

    response = browser.post(REFRESH)

    assert response.status_code == 401
    assert response.json() == {"detail": "Token is blacklisted", "code": "token_not_valid"}
    assert_cookie_deleted(response)


@pytest.mark.parametrize("path", SESSION_PATHS)
@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://testserver:8080", "https://testserver", "null"]
)
def test_a_page_of_another_origin_is_refused(browser, path, origin):
    cookie = cookie_of(browser)

    response = browser.post(path, CREDENTIALS if path == LOGIN else {}, HTTP_ORIGIN=origin)

    assert response.status_code == 403
    assert response.json() == {
        "detail": "This request comes from a page of another origin: its Origin header is "
        "not this server's, nor a trusted origin.",
        "code": "cross_origin",
    }
    assert SESSION_REFRESH_COOKIE not in response.cookies
    assert cookie_of(browser) == cookie
    assert browser.post(REFRESH).status_code == 200  # the session was not touched


@pytest.mark.parametrize("path", SESSION_PATHS)
def test_this_sites_own_pages_are_allowed(browser, path):
    response = browser.post(path, CREDENTIALS if path == LOGIN else {}, HTTP_ORIGIN=THIS_SITE)

    assert response.status_code in (200, 204)


@pytest.mark.parametrize(
    ("trusted", "origin"),
    [
        ("https://chat.example", "https://chat.example"),
        ("https://*.example", "https://app.chat.example"),
    ],
)
def test_trusted_origins_are_allowed(settings, browser, trusted, origin):
    settings.CSRF_TRUSTED_ORIGINS = [trusted]

    assert browser.post(REFRESH, HTTP_ORIGIN=origin).status_code == 200
    assert browser.post(REFRESH, HTTP_ORIGIN="http://app.chat.example").status_code == 403


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (LOGIN, "username=alice&password=correct-horse-battery-staple"),
        (REFRESH, ""),  # an HTML form with no fields
        (LOGOUT, ""),
    ],
)
def test_a_form_cannot_post_to_the_session_endpoints(browser, path, body):
    cookie = cookie_of(browser)

    response = browser.generic("POST", path, body, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 415
    assert response.data["code"] == "unsupported_media_type"
    assert SESSION_REFRESH_COOKIE not in response.cookies
    assert browser.post(REFRESH).status_code == 200
    assert cookie_of(browser) != cookie  # rotated by that refresh, not before


def test_a_malformed_json_body_is_a_400(browser):
    response = browser.generic("POST", LOGOUT, "{", content_type="application/json")

    assert response.status_code == 400
    assert response.data["code"] == "parse_error"


@pytest.mark.parametrize("path", ["/api/session", "/api/session/refresh", "/api/session/logout"])
def test_the_paths_work_without_their_trailing_slash(browser, path):
    response = browser.post(path, CREDENTIALS if path == "/api/session" else None)

    assert response.status_code in (200, 204)


def test_the_json_token_endpoints_set_no_cookie(anon_client, alice):
    response = anon_client.post("/api/token/", CREDENTIALS)

    assert set(response.json()) == {"access", "refresh"}
    assert not response.cookies
