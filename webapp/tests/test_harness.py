"""The browser tests' harness: the real server answers the chat page with its policy, a
real browser opens it cleanly, and the helpers find controls as a screen reader would.
(The chat page's own stories replace the page checks here as the page grows.)"""

import http.client
import urllib.parse

import pytest

from webapp.tests.browser import (
    NoSuchElementException,
    all_by_role,
    by_label,
    by_role,
    console_errors,
    save_screenshot,
    wait_until,
)

pytestmark = pytest.mark.browser

CONTROLS = """<!doctype html><title>Controls</title><main>
<label for="name">Username</label><input id="name">
<input aria-label="Password" type="password">
<input placeholder="Search">
<button>Send</button><button hidden>Send</button>
<button>Delete</button><button aria-label="Delete">X</button>
</main>"""


def get(url: str) -> http.client.HTTPResponse:
    """GET `url` without following a redirect; the answer, its body read."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.request("GET", parts.path)
    answer = connection.getresponse()
    answer.read()
    connection.close()
    return answer


def page_loaded(driver) -> bool:
    return driver.execute_script("return document.readyState") == "complete"


def test_the_chat_page_is_served_with_its_content_security_policy(chat_server):
    answer = get(f"{chat_server}/app/")

    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]


def test_the_root_leads_to_the_chat_page(chat_server):
    answer = get(f"{chat_server}/")

    assert answer.status == 302
    assert answer.headers["Location"] == "/app/"


def test_the_chat_page_opens_in_a_browser_without_console_errors(chat_server, browser, tmp_path):
    driver = browser()

    driver.get(f"{chat_server}/app/")
    wait_until(driver, page_loaded)

    assert driver.title == "Chat"
    assert [main.tag_name for main in all_by_role(driver, "main")] == ["main"]
    assert console_errors(driver) == []
    assert save_screenshot(driver, "app", folder=tmp_path).read_bytes().startswith(b"\x89PNG")


def test_the_console_shows_what_the_pages_policy_refuses(chat_server, browser):
    driver = browser()
    driver.get(f"{chat_server}/app/")
    wait_until(driver, page_loaded)
    assert console_errors(driver) == []

    # An inline script, as injected markup would carry: the policy allows only the
    # page's own script files.
    driver.execute_script(
        "const script = document.createElement('script');"
        "script.textContent = 'document.title = \"injected\"';"
        "document.head.append(script);"
    )

    errors = wait_until(driver, console_errors)
    assert "Content Security Policy" in errors[0]
    assert driver.title == "Chat"


def test_controls_are_found_by_role_and_accessible_name(browser):
    driver = browser()
    driver.get("data:text/html," + urllib.parse.quote(CONTROLS))

    assert by_label(driver, "Username").get_attribute("id") == "name"
    assert by_label(driver, "Password").get_attribute("type") == "password"
    assert by_role(driver, "textbox", "Username") == by_label(driver, "Username")
    assert by_role(driver, "button", "Send").is_displayed()  # the hidden one is not a match
    assert len(all_by_role(driver, "button")) == 3


def test_a_placeholder_is_not_a_label_and_a_name_must_be_unique(browser):
    driver = browser()
    driver.get("data:text/html," + urllib.parse.quote(CONTROLS))

    with pytest.raises(NoSuchElementException, match="0 elements"):
        by_label(driver, "Search")
    with pytest.raises(NoSuchElementException, match="2 elements"):
        by_role(driver, "button", "Delete")
    with pytest.raises(NoSuchElementException, match="0 elements"):
        by_role(driver, "link", "Send")


def test_each_browser_is_a_separate_user_of_the_given_size(chat_server, browser):
    alice, bob = browser(), browser(width=400, height=800)
    alice.get(f"{chat_server}/app/")
    bob.get(f"{chat_server}/app/")

    alice.execute_script("localStorage.setItem('who', 'alice')")

    assert bob.execute_script("return localStorage.getItem('who')") is None
    assert alice.execute_script("return [innerWidth, innerHeight]") == [1280, 900]
    assert bob.execute_script("return [innerWidth, innerHeight]") == [400, 800]
