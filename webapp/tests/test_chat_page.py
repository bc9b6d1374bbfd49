"""The chat page, used by two people in two real browsers (headless Chromium), against the
server as `make run` starts it. Controls are found by role and accessible name, as
assistive technology finds them (webapp/tests/browser.py)."""

import json
import re
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from webapp.tests.browser import (
    NoSuchElementException,
    by_label,
    by_role,
    by_role_named,
    console_errors,
    save_screenshot,
    wait_until,
    within,
)

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"  # noqa: S105


def sign_up(driver, chat_server: str, username: str) -> None:
    driver.get(f"{chat_server}/app/")
    wait_until(driver, lambda d: by_label(d, "Username")).send_keys(username)
    by_label(driver, "Password").send_keys(PASSWORD)
    by_role(driver, "button", "Sign up").click()
    wait_until(driver, lambda d: connection_state(d) == "online")


def connection_state(driver) -> str:
    return driver.execute_script("return document.querySelector('[role=status]')?.dataset.state")


def start_conversation(driver, other: str) -> None:
    by_label(driver, "Find people").send_keys(other)
    wait_until(driver, lambda d: by_role(d, "button", f"Message {other}")).click()
    wait_until(driver, lambda d: by_role(d, "log", f"Conversation with {other}"))


def open_conversation(driver, other: str) -> None:
    wait_until(driver, lambda d: inbox_entry(d, other)).click()
    wait_until(driver, lambda d: by_role(d, "log", f"Conversation with {other}"))


def inbox_entry(driver, other: str):
    """The inbox's button for the conversation with `other` (its name starts with theirs,
    then the unread count, the last message and its time)."""
    return by_role_named(driver, "button", re.compile(rf"^{re.escape(other)}\b"))


def message_item(driver, other: str, text: str):
    """The conversation's entry (its list item) for the message saying `text`."""
    log = by_role(driver, "log", f"Conversation with {other}")
    found = driver.execute_script(
        "return [...arguments[0].querySelectorAll('li.message')]"
        ".filter((item) => item.querySelector('.text')?.textContent === arguments[1])",
        log,
        text,
    )
    if len(found) != 1:
        raise NoSuchElementException(f"{len(found)} messages say {text!r}")
    return found[0]


def send(driver, text: str) -> None:
    box = by_label(driver, "Message")
    box.send_keys(text)
    by_role(driver, "button", "Send").click()


def messages(driver, other: str) -> list[str]:
    """What the conversation shows, oldest first: each message's text (or its deletion)."""
    log = by_role(driver, "log", f"Conversation with {other}")
    return driver.execute_script(
        "return [...arguments[0].querySelectorAll('li.message:not(.pending) .text')]"
        ".map((text) => text.textContent)",
        log,
    )


def shows(driver, other: str, expected: list[str]) -> bool:
    return messages(driver, other) == expected


def api_login(chat_server: str, username: str) -> str:
    request = urllib.request.Request(  # noqa: S310 (our own server's http:// URL)
        f"{chat_server}/api/token/",
        data=json.dumps({"username": username, "password": PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310 (our own server)
        return json.load(response)["access"]


def go_offline(driver, offline: bool) -> None:
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )


@pytest.fixture
def photo(tmp_path) -> Path:
    path = tmp_path / "photo.png"
    Image.new("RGB", (320, 200), "teal").save(path)
    return path


def test_two_people_talk_live(chat_server, browser, photo):
    alice, bob = browser(), browser()
    sign_up(alice, chat_server, "alice_live")
    sign_up(bob, chat_server, "bob_live")

    start_conversation(alice, "bob_live")
    send(alice, "Hi Bob, lunch?")

    # Bob's inbox shows it live, unread: a badge and the count in the title
    entry = wait_until(bob, lambda d: inbox_entry(d, "alice_live"))
    wait_until(bob, lambda d: "1 unread" in inbox_entry(d, "alice_live").accessible_name)
    assert "Hi Bob, lunch?" in entry.accessible_name
    wait_until(bob, lambda d: d.title == "(1) Chat")

    # He opens it: the badge clears, and Alice sees her message read
    open_conversation(bob, "alice_live")
    wait_until(bob, lambda d: shows(d, "alice_live", ["Hi Bob, lunch?"]))
    wait_until(bob, lambda d: d.title == "Chat")
    assert "unread" not in inbox_entry(bob, "alice_live").accessible_name
    log = by_role(alice, "log", "Conversation with bob_live")
    wait_until(alice, lambda d: "Read" in log.text)

    # Bob types (Alice sees it) and answers with the keyboard alone
    by_label(bob, "Message").send_keys("Sure")
    wait_until(alice, lambda d: "bob_live is typing" in d.page_source)
    by_label(bob, "Message").send_keys(" thing!\n")
    wait_until(alice, lambda d: shows(d, "bob_live", ["Hi Bob, lunch?", "Sure thing!"]))

    # A reaction and a picture arrive live
    reply = wait_until(alice, lambda d: message_item(d, "bob_live", "Sure thing!"))
    within(alice, reply, "button", "React").click()
    within(alice, reply, "button", "React with 👍").click()
    wait_until(
        bob, lambda d: within(d, message_item(d, "alice_live", "Sure thing!"), "button", "👍 1")
    )

    by_label(alice, "Attach files").send_keys(str(photo))
    wait_until(alice, lambda d: "photo.png (ready)" in by_role(d, "list", "Files to send").text)
    send(alice, "The place")
    picture = wait_until(bob, lambda d: by_role(d, "image", "photo.png"))
    assert picture.get_attribute("naturalWidth") not in (None, "0")

    # Text is shown as text, never run or rendered as HTML
    hostile = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"><b>bold</b>'
    send(bob, hostile)
    wait_until(alice, lambda d: messages(d, "bob_live")[-1] == hostile)
    assert alice.execute_script("return window.pwned") is None
    injected = "return document.querySelectorAll('.log b, .log script, .log img[src=x]').length"
    assert alice.execute_script(injected) == 0

    save_screenshot(alice, "thread-desktop")
    for driver in (alice, bob):
        assert console_errors(driver) == []
