"""The chat page as the server hands it out (no browser needed): where it is, the policy
it is sent with, and what else it answers."""

from django.test import Client


def test_the_page_is_sent_with_a_strict_content_security_policy(db):
    response = Client().get("/app/")
    assert response.status_code == 200
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    html = response.content.decode()
    assert "<script>" not in html  # module scripts from files only: no inline script
    assert 'data-message-max-length="5000"' in html


def test_other_methods_are_refused_as_the_api_refuses_them(db):
    response = Client().post("/app/", {"x": "1"})
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == {"detail": 'Method "POST" not allowed.', "code": "method_not_allowed"}
