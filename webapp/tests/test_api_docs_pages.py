"""The API's documentation pages in a real browser: Swagger UI (/api/docs/) and ReDoc
(/api/redoc/) show the operations under their tags, load everything from this server and
log no error (a missing favicon, a blocked script or a failed fetch would be one)."""

import urllib.request

import pytest

from webapp.tests.browser import WebDriver, all_by_role, by_role, console_errors, wait_until

pytestmark = pytest.mark.browser

TAGS = ["Accounts", "Users", "Threads", "Messages", "Attachments", "Reactions", "Sync", "Blocks"]


def loaded_from_elsewhere(driver: WebDriver, server: str) -> list[str]:
    """Every resource the page loaded (scripts, styles, images, the schema, the icon) whose
    address is not on `server`."""
    names = driver.execute_script(
        "return performance.getEntriesByType('resource').map(entry => entry.name)"
    )
    assert names, "the page loaded nothing: the check would prove nothing"
    return [name for name in names if not name.startswith(f"{server}/")]


def swagger_tags(driver: WebDriver) -> list[str]:
    """The tags' headings, in order (each named by its tag, its description and its
    "Collapse operation" button)."""
    headings = [heading.text.split("\n")[0] for heading in all_by_role(driver, "heading")]
    return [heading for heading in headings if heading in TAGS]


def test_swagger_ui_shows_the_operations_by_tag_from_this_server_alone(chat_server, browser):
    driver = browser()
    driver.get(f"{chat_server}/api/docs/")

    assert wait_until(driver, lambda d: swagger_tags(d) == TAGS)
    by_role(driver, "button", "GET /api /threads / List my threads")
    by_role(driver, "button", "POST /api /token / Log in")
    assert driver.execute_script(
        "return [...document.querySelectorAll('link[rel=icon]')].map(link => link.href)"
    ) == [f"{chat_server}/favicon.ico"]
    assert loaded_from_elsewhere(driver, chat_server) == []
    assert console_errors(driver) == []


def test_redoc_shows_the_operations_by_tag_from_this_server_alone(chat_server, browser):
    driver = browser()
    driver.get(f"{chat_server}/api/redoc/")

    # The sidebar: one entry per tag, in the declared order.
    wait_until(
        driver, lambda d: [item.text for item in all_by_role(d, "menuitem")] == TAGS, timeout=20
    )
    headings = [heading.text for heading in all_by_role(driver, "heading")]
    assert "Threads" in headings
    assert "List my threads" in headings
    # Redocly's logo (from cdn.redoc.ly) is left out of the sidebar's footer; its link stays.
    footer = by_role(driver, "link", "API docs by Redocly")
    assert footer.find_elements("css selector", "img") == []
    assert loaded_from_elsewhere(driver, chat_server) == []
    assert console_errors(driver) == []


def test_the_site_answers_for_its_favicon(chat_server):
    # The http:// URL of our own server.
    with urllib.request.urlopen(f"{chat_server}/favicon.ico", timeout=10) as answer:  # noqa: S310
        assert answer.status == 200
        assert answer.headers["Content-Type"] == "image/x-icon"
