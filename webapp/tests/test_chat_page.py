"""The chat page, used by two people in two real browsers (headless Chromium), against the
server as `make run` starts it. Controls are found by role and accessible name, as
assistive technology finds them (webapp/tests/browser.py)."""

import json
import re
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from webapp.tests.browser import (
    Keys,
    NoSuchElementException,
    all_by_role,
    by_label,
    by_role,
    by_role_named,
    click,
    console_errors,
    save_screenshot,
    wait_until,
    within,
)

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"  # noqa: S105


def sign_up(driver, chat_server: str, username: str) -> None:
    enter(driver, chat_server, username, "Sign up")


def enter(driver, chat_server: str, username: str, button: str) -> None:
    """Open the page, fill in the sign-in form and press `button` ("Sign up", "Log in")."""
    driver.get(f"{chat_server}/app/")
    wait_until(driver, lambda d: by_label(d, "Username")).send_keys(username)
    by_label(driver, "Password").send_keys(PASSWORD)
    by_role(driver, "button", button).click()
    wait_until(driver, lambda d: connection_state(d) == "Connected")


def connection_state(driver) -> str:
    """What the page says of its connection (the status line at the top)."""
    status = [element.text for element in all_by_role(driver, "status") if element.text]
    return status[0] if status else ""


def two_people(browser, chat_server: str, first: str, second: str, opening: str = ""):
    """Two people signed up in browsers of their own, and the conversation `first` started
    with `second` (saying `opening`, if given): their two drivers."""
    alice, bob = browser(), browser()
    sign_up(alice, chat_server, first)
    sign_up(bob, chat_server, second)
    start_conversation(alice, second)
    if opening:
        send(alice, opening)
    return alice, bob


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


def call(chat_server: str, method: str, path: str, body=None, token: str = ""):
    """The REST API, as another client (a script) uses it beside the browsers."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 (our own server's http:// URL)
        f"{chat_server}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers=headers,
        method=method,
    )
    with urllib.request.urlopen(request) as response:  # noqa: S310 (our own server)
        return json.load(response) if response.status != 204 else None


def register(chat_server: str, username: str) -> tuple[int, str]:
    """A person signed up over the API: their id and an access token."""
    person = call(
        chat_server, "POST", "/api/user/register/", {"username": username, "password": PASSWORD}
    )
    pair = call(chat_server, "POST", "/api/token/", {"username": username, "password": PASSWORD})
    return person["id"], pair["access"]


def post_messages(chat_server: str, thread_id: int, token: str, texts) -> list[dict]:
    return [
        call(chat_server, "POST", f"/api/threads/{thread_id}/messages", {"text": text}, token)
        for text in texts
    ]


@dataclass
class Conversation:
    thread: int
    writer_token: str
    reader_token: str
    sent: list[dict]


def written_to(chat_server: str, writer: str, reader: str, texts: list[str]) -> Conversation:
    """`writer` and `reader` signed up over the API, and `texts` sent by `writer` to
    `reader` in a new conversation (the reader's browser is opened by the test)."""
    _, writer_token = register(chat_server, writer)
    reader_id, reader_token = register(chat_server, reader)
    thread = call(chat_server, "POST", "/api/threads/", {"participants": [reader_id]}, writer_token)
    sent = post_messages(chat_server, thread["id"], writer_token, texts)
    return Conversation(thread["id"], writer_token, reader_token, sent)


def log_in(driver, chat_server: str, username: str) -> None:
    enter(driver, chat_server, username, "Log in")


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
    alice, bob = two_people(browser, chat_server, "alice_live", "bob_live", "Hi Bob, lunch?")

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
    react(alice, "bob_live", "Sure thing!", "👍")
    wait_until(
        bob, lambda d: within(d, message_item(d, "alice_live", "Sure thing!"), "button", "👍 1")
    )

    by_label(alice, "Attach files").send_keys(str(photo))
    wait_until(alice, lambda d: "photo.png (ready)" in by_role(d, "list", "Files to send").text)
    send(alice, "The place")
    picture = wait_until(bob, lambda d: by_role(d, "image", "photo.png"))
    assert picture.size == {"width": 192, "height": 120}  # its proportions, kept before it loads
    # Shown once it loads (it may be drawn before its bytes arrive, on a busy machine).
    wait_until(
        bob,
        lambda d: by_role(d, "image", "photo.png").get_attribute("naturalWidth") not in (None, "0"),
    )

    # Text is shown as text, never run or rendered as HTML
    hostile = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"><b>bold</b>'
    send(bob, hostile)
    wait_until(alice, lambda d: messages(d, "bob_live")[-1] == hostile)
    wait_until(alice, lambda d: d.title == "Chat")  # seen, so read
    assert alice.execute_script("return window.pwned") is None
    injected = "return document.querySelectorAll('.log b, .log script, .log img[src=x]').length"
    assert alice.execute_script(injected) == 0

    save_screenshot(alice, "thread-desktop")
    for driver in (alice, bob):
        assert console_errors(driver) == []


def edit(driver, other: str, text: str, new_text: str) -> None:
    click(driver, lambda d: within(d, message_item(d, other, text), "button", "Edit"))
    box = wait_until(driver, lambda d: by_label(d, "Edit message"))
    box.clear()
    box.send_keys(new_text + "\n")
    wait_until(driver, lambda d: message_item(d, other, new_text))


def delete(driver, other: str, text: str) -> None:
    """Delete the message saying `text`: Delete, then Yes, delete (each found again if a
    live change redraws the message meanwhile)."""
    click(driver, lambda d: within(d, message_item(d, other, text), "button", "Delete"))
    click(driver, lambda d: within(d, message_item(d, other, text), "button", "Yes, delete"))


def react(driver, other: str, text: str, emoji: str) -> None:
    """React to the message saying `text` with `emoji`, as a person does: React, then the
    emoji (each found again if a live change redraws the message meanwhile)."""

    def control(name: str):
        return lambda d: within(d, message_item(d, other, text), "button", name)

    click(driver, control("React"))
    click(driver, control(f"React with {emoji}"))


def test_a_browser_that_was_offline_shows_exactly_the_final_state(chat_server, browser):
    alice, bob = two_people(browser, chat_server, "alice_away", "bob_away", "one")
    open_conversation(bob, "alice_away")
    wait_until(bob, lambda d: shows(d, "alice_away", ["one"]))

    go_offline(bob, True)
    wait_until(bob, lambda d: connection_state(d) == "Offline: reconnecting…")
    for text in ("two", "three", "four"):
        send(alice, text)
    wait_until(alice, lambda d: shows(d, "bob_away", ["one", "two", "three", "four"]))
    edit(alice, "bob_away", "three", "three, edited")
    delete(alice, "bob_away", "four")
    final = ["one", "two", "three, edited", "Message deleted"]
    wait_until(alice, lambda d: shows(d, "bob_away", final))
    assert shows(bob, "alice_away", ["one"])

    go_offline(bob, False)
    wait_until(bob, lambda d: connection_state(d) == "Connected", timeout=20)
    wait_until(bob, lambda d: shows(d, "alice_away", final))

    # A reload keeps the session and everything in it
    bob.refresh()
    wait_until(bob, lambda d: connection_state(d) == "Connected")
    open_conversation(bob, "alice_away")
    wait_until(bob, lambda d: shows(d, "alice_away", final))
    assert console_errors(alice) == []
    # Only the requests that found the network gone, while it was
    assert [
        error for error in console_errors(bob) if "ERR_INTERNET_DISCONNECTED" not in error
    ] == []


def test_a_send_that_failed_offline_is_sent_once_by_retry(chat_server, browser):
    alice, bob = two_people(browser, chat_server, "alice_retry", "bob_retry", "first")
    open_conversation(bob, "alice_retry")

    go_offline(alice, True)
    send(alice, "sent on a bad network")
    retry = wait_until(alice, lambda d: by_role(d, "button", "Retry"), timeout=30)
    assert "Not sent" in by_role(alice, "log", "Conversation with bob_retry").text
    assert shows(bob, "alice_retry", ["first"])

    go_offline(alice, False)
    retry.click()
    expected = ["first", "sent on a bad network"]
    wait_until(bob, lambda d: shows(d, "alice_retry", expected))
    wait_until(alice, lambda d: shows(d, "bob_retry", expected))
    assert not all_by_role(alice, "button", "Retry")


def test_a_blocked_person_cannot_send_until_unblocked(chat_server, browser):
    alice, bob = two_people(browser, chat_server, "alice_blocks", "bob_blocked", "please stop")
    by_role(alice, "button", "Block bob_blocked").click()
    unblock = wait_until(alice, lambda d: by_role(d, "button", "Unblock bob_blocked"))

    open_conversation(bob, "alice_blocks")
    send(bob, "why?")
    wait_until(bob, lambda d: by_role(d, "button", "Retry"))
    assert "Not sent" in by_role(bob, "log", "Conversation with alice_blocks").text
    assert shows(alice, "bob_blocked", ["please stop"])

    unblock.click()
    wait_until(alice, lambda d: by_role(d, "button", "Block bob_blocked"))
    by_role(bob, "button", "Retry").click()
    wait_until(alice, lambda d: shows(d, "bob_blocked", ["please stop", "why?"]))


def test_a_refused_send_can_be_taken_back_to_edit_or_discarded(chat_server, browser):
    alice, bob = two_people(browser, chat_server, "alice_refuses", "bob_refused", "hello")
    by_role(alice, "button", "Block bob_refused").click()
    wait_until(alice, lambda d: by_role(d, "button", "Unblock bob_refused"))
    open_conversation(bob, "alice_refuses")

    send(bob, "first try")
    log = by_role(bob, "log", "Conversation with alice_refuses")
    failed = wait_until(bob, lambda d: log.find_element("css selector", ".pending.failed"))
    within(bob, failed, "button", "Edit").click()
    box = by_label(bob, "Message")
    assert box.get_attribute("value") == "first try"
    assert bob.switch_to.active_element == box
    assert not log.find_elements("css selector", ".pending")

    box.clear()
    send(bob, "second try")
    failed = wait_until(bob, lambda d: log.find_element("css selector", ".pending.failed"))
    within(bob, failed, "button", "Discard").click()
    wait_until(bob, lambda d: not log.find_elements("css selector", ".pending"))
    assert by_label(bob, "Message").get_attribute("value") == ""
    assert shows(alice, "bob_refused", ["hello"])


def test_the_keyboard_stays_on_a_message_not_sent_while_another_is_retried(chat_server, browser):
    alice, bob = two_people(browser, chat_server, "alice_keeps_out", "bob_kept_out", "hello")
    by_role(alice, "button", "Block bob_kept_out").click()
    wait_until(alice, lambda d: by_role(d, "button", "Unblock bob_kept_out"))
    open_conversation(bob, "alice_keeps_out")
    log = by_role(bob, "log", "Conversation with alice_keeps_out")
    send(bob, "refused")
    wait_until(bob, lambda d: log.find_element("css selector", ".pending.failed"))

    go_offline(bob, True)
    send(bob, "on a bad network")  # tried again and again, then given up
    refused = log.find_element("css selector", ".pending.failed")
    discard = within(bob, refused, "button", "Discard")
    bob.execute_script("arguments[0].focus()", discard)
    wait_until(
        bob, lambda d: len(log.find_elements("css selector", ".pending.failed")) == 2, timeout=30
    )

    assert bob.switch_to.active_element == discard
    go_offline(bob, False)


def test_an_over_long_message_is_refused_before_sending_and_kept(chat_server, browser):
    register(chat_server, "bob_long_text")
    alice = browser()
    sign_up(alice, chat_server, "alice_long_text")
    start_conversation(alice, "bob_long_text")
    box = by_label(alice, "Message")
    alice.execute_script("arguments[0].value = 'x'.repeat(5001)", box)
    by_role(alice, "button", "Send").click()
    alert = wait_until(alice, lambda d: d.find_element("css selector", ".composer [role=alert]"))
    wait_until(alice, lambda d: alert.text)
    assert alert.text == "A message can be at most 5000 characters; this one has 5001."
    assert len(box.get_attribute("value")) == 5001
    assert messages(alice, "bob_long_text") == []


def test_a_long_history_opens_at_the_first_unread_pages_back_and_searches(chat_server, browser):
    texts = [f"message {number}" for number in range(1, 131)]
    written = written_to(chat_server, "alice_long", "bob_long", texts)
    up_to = {"up_to": written.sent[99]["id"]}
    mark_read = f"/api/threads/{written.thread}/mark_read"
    call(chat_server, "PATCH", mark_read, up_to, written.reader_token)

    bob = browser()
    log_in(bob, chat_server, "bob_long")
    wait_until(bob, lambda d: d.title == "(30) Chat")
    open_conversation(bob, "alice_long")
    # Where he left off: the first unread under a "New messages" line, on screen
    wait_until(bob, lambda d: by_role(d, "separator", "New messages"))
    first_unread = message_item(bob, "alice_long", "message 101")
    assert bob.execute_script(
        "const box = arguments[0].getBoundingClientRect();"
        "return box.top >= 0 && box.bottom <= window.innerHeight;",
        first_unread,
    )
    assert "message 1" not in messages(bob, "alice_long")

    # Scrolling back loads older pages, down to the first message
    log = by_role(bob, "log", "Conversation with alice_long")
    while "message 1" not in messages(bob, "alice_long"):
        count = len(messages(bob, "alice_long"))
        bob.execute_script("arguments[0].parentElement.scrollTop = 0", log)
        wait_until(bob, lambda d, count=count: len(messages(d, "alice_long")) > count)
    assert not all_by_role(bob, "button", "Load older messages")
    shown = messages(bob, "alice_long")
    assert shown == [f"message {number}" for number in range(1, 131)][: len(shown)]
    # Unread until seen: scrolled to the end, he has read everything
    assert bob.title != "Chat"
    scroll_to_end = "arguments[0].parentElement.scrollTop = arguments[0].parentElement.scrollHeight"
    wait_until(bob, lambda d: d.execute_script(scroll_to_end, log) or d.title == "Chat")
    assert messages(bob, "alice_long") == [f"message {number}" for number in range(1, 131)]
    save_screenshot(bob, "inbox-desktop")

    # Search in the thread, and jump to a hit
    search = by_label(bob, "Search this conversation")
    search.send_keys("message 7\n")
    results = wait_until(bob, lambda d: by_role(d, "list", "Search results"))
    wait_until(bob, lambda d: "message 7" in results.text)
    hit = by_role_named(bob, "button", re.compile(r"^alice_long: message 7 "))
    hit.click()
    wait_until(
        bob, lambda d: d.switch_to.active_element == message_item(d, "alice_long", "message 7")
    )


def test_at_phone_width_one_pane_at_a_time(chat_server, browser):
    alice = browser(width=390, height=844)
    bob = browser()
    sign_up(alice, chat_server, "alice_phone")
    sign_up(bob, chat_server, "bob_phone")
    start_conversation(bob, "alice_phone")
    send(bob, "Are you on your phone?")
    send(bob, "Lunch at noon?")
    wait_until(alice, lambda d: "2 unread" in inbox_entry(d, "bob_phone").accessible_name)
    assert not all_by_role(alice, "log")
    save_screenshot(alice, "inbox-phone")

    open_conversation(alice, "bob_phone")
    assert not all_by_role(alice, "list", "Conversations")
    send(alice, "Yes, see you there")
    expected = ["Are you on your phone?", "Lunch at noon?", "Yes, see you there"]
    wait_until(bob, lambda d: shows(d, "alice_phone", expected))
    wait_until(alice, lambda d: "Read" in by_role(d, "log", "Conversation with bob_phone").text)
    save_screenshot(alice, "thread-phone")

    by_role(alice, "button", "Back to conversations").click()
    wait_until(alice, lambda d: by_role(d, "list", "Conversations"))
    assert not all_by_role(alice, "log")
    assert console_errors(alice) == []


def tab_to(driver, element, presses: int = 25) -> None:
    """Press Tab until `element` has the focus, as a keyboard user moves through the page."""
    for _ in range(presses):
        if driver.switch_to.active_element == element:
            return
        driver.switch_to.active_element.send_keys(Keys.TAB)
    raise AssertionError(f"{presses} presses of Tab never reached {element.accessible_name!r}")


def test_the_keyboard_alone_signs_up_starts_a_conversation_and_sends(chat_server, browser):
    register(chat_server, "keys_bob")
    driver = browser()
    driver.get(f"{chat_server}/app/")
    username = wait_until(driver, lambda d: by_label(d, "Username"))
    assert driver.switch_to.active_element == username
    username.send_keys("keys_alice")
    tab_to(driver, by_label(driver, "Password"))
    driver.switch_to.active_element.send_keys(PASSWORD)
    tab_to(driver, by_role(driver, "button", "Sign up"))
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait_until(driver, lambda d: connection_state(d) == "Connected")

    tab_to(driver, by_label(driver, "Find people"))
    driver.switch_to.active_element.send_keys("keys_bob")
    tab_to(driver, wait_until(driver, lambda d: by_role(d, "button", "Message keys_bob")))
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait_until(driver, lambda d: by_role(d, "log", "Conversation with keys_bob"))
    assert driver.switch_to.active_element == by_label(driver, "Message")
    driver.switch_to.active_element.send_keys("typed, never clicked", Keys.ENTER)
    wait_until(driver, lambda d: shows(d, "keys_bob", ["typed, never clicked"]))


DROP_A_FILE = """
const [target, name, text] = arguments;
const files = new DataTransfer();
files.items.add(new File([text], name, { type: "text/plain" }));
for (const type of ["dragenter", "dragover", "drop"]) {
  const event = { bubbles: true, cancelable: true, dataTransfer: files };
  target.dispatchEvent(new DragEvent(type, event));
}
"""


def test_a_file_dropped_on_the_conversation_arrives_as_a_download_link(chat_server, browser):
    alice, bob = two_people(browser, chat_server, "alice_drops", "bob_drops")
    log = by_role(alice, "log", "Conversation with bob_drops")
    alice.execute_script(DROP_A_FILE, log, "agenda.txt", "1. Lorem\n2. Ipsum\n")
    wait_until(alice, lambda d: "agenda.txt (ready)" in by_role(d, "list", "Files to send").text)
    by_role(alice, "button", "Send").click()

    open_conversation(bob, "alice_drops")
    link = wait_until(bob, lambda d: by_role(d, "link", "agenda.txt (18 B)"))
    assert link.get_attribute("download") == "agenda.txt"
    assert "/api/attachments/" in link.get_attribute("href")


def slow_network(driver, latency_ms: int) -> None:
    """Every HTTP answer reaches the page `latency_ms` late (the WebSocket is not slowed):
    what a phone on a bad network sees."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": latency_ms, "downloadThroughput": -1, "uploadThroughput": -1},
    )


def test_a_message_that_arrives_while_a_conversation_loads_is_kept(chat_server, browser):
    written = written_to(chat_server, "alice_loading", "bob_loading", ["hello"])
    bob = browser()
    log_in(bob, chat_server, "bob_loading")
    slow_network(bob, 1500)
    inbox_entry(bob, "alice_loading").click()
    # The page of messages is on its way when this one is sent: it comes over the socket
    post_messages(chat_server, written.thread, written.writer_token, ["while it loads"])
    wait_until(bob, lambda d: shows(d, "alice_loading", ["hello", "while it loads"]), timeout=15)
    slow_network(bob, 0)
    assert console_errors(bob) == []


def unread_in(chat_server: str, thread_id: int, token: str) -> int:
    return call(chat_server, "GET", f"/api/threads/{thread_id}/unread_count", token=token)[
        "unread_count"
    ]


def test_switching_conversations_marks_read_only_what_was_seen(chat_server, browser):
    _, alice_token = register(chat_server, "alice_switch")
    _, carol_token = register(chat_server, "carol_switch")
    bob_id, bob_token = register(chat_server, "bob_switch")
    # Carol's messages are older (lower ids) than Alice's, and far more than a screen holds
    with_carol = call(chat_server, "POST", "/api/threads/", {"participants": [bob_id]}, carol_token)
    post_messages(chat_server, with_carol["id"], carol_token, [f"carol {n}" for n in range(80)])
    with_alice = call(chat_server, "POST", "/api/threads/", {"participants": [bob_id]}, alice_token)
    post_messages(chat_server, with_alice["id"], alice_token, ["alice 1", "alice 2"])

    bob = browser()
    log_in(bob, chat_server, "bob_switch")
    wait_until(bob, lambda d: inbox_entry(d, "carol_switch"))
    slow_network(bob, 1000)
    # Bob reads Alice's two messages and moves on to Carol's at once, on a slow network
    bob.execute_async_script(
        """
        const [alice, carol, done] = arguments;
        alice.click();
        const wait = setInterval(() => {
          if (document.querySelectorAll(".log li.message").length === 2) {
            clearInterval(wait);
            // Seen (the observer has fired), and not yet marked read (300 ms later)
            setTimeout(() => { carol.click(); done(); }, 200);
          }
        }, 20);
        """,
        inbox_entry(bob, "alice_switch"),
        inbox_entry(bob, "carol_switch"),
    )
    wait_until(bob, lambda d: "carol 0" in messages(d, "carol_switch"), timeout=15)
    slow_network(bob, 0)
    # What he saw of Alice's is read; of Carol's 80, only the first screenful can be
    wait_until(bob, lambda d: unread_in(chat_server, with_alice["id"], bob_token) == 0)
    bob.execute_script("return new Promise((done) => setTimeout(done, 1500))")
    assert unread_in(chat_server, with_carol["id"], bob_token) > 40


def test_a_reply_sent_from_far_back_lands_after_the_newest_message(chat_server, browser):
    # More than two pages newer than where he opens it
    sent = [f"message {number}" for number in range(1, 131)]
    written_to(chat_server, "alice_far", "bob_far", sent)
    bob = browser()
    log_in(bob, chat_server, "bob_far")
    open_conversation(bob, "alice_far")
    # Opened at his first unread, the oldest: the newest messages are not loaded yet
    wait_until(bob, lambda d: by_role(d, "separator", "New messages"))
    assert "message 130" not in messages(bob, "alice_far")

    send(bob, "a reply")
    wait_until(bob, lambda d: messages(d, "alice_far")[-2:] == ["message 130", "a reply"])
    # Scrolling back shows every message once, in order: no gap before the reply
    log = by_role(bob, "log", "Conversation with alice_far")
    while "message 1" not in messages(bob, "alice_far"):
        count = len(messages(bob, "alice_far"))
        bob.execute_script("arguments[0].parentElement.scrollTop = 0", log)
        wait_until(bob, lambda d, count=count: len(messages(d, "alice_far")) > count)
    assert messages(bob, "alice_far") == [*sent, "a reply"]


def test_a_refresh_the_server_cannot_answer_now_keeps_the_session(chat_server, browser):
    bob = browser()
    sign_up(bob, chat_server, "bob_throttled")
    # The access token is refused once, and the refresh that follows is throttled (429):
    # that says "not now", not "logged out"
    bob.execute_script(
        """
        const realFetch = window.fetch;
        let refused = false;
        window.fetch = (path, options) => {
          if (String(path).startsWith("/api/users/") && !refused) {
            refused = true;
            return Promise.resolve(new Response('{"detail": "Token expired."}', { status: 401 }));
          }
          if (String(path).startsWith("/api/session/refresh/")) {
            const body = '{"detail": "Request was throttled.", "code": "throttled"}';
            return Promise.resolve(new Response(body, { status: 429 }));
          }
          return realFetch(path, options);
        };
        """
    )
    by_label(bob, "Find people").send_keys("someone")
    wait_until(bob, lambda d: "Request was throttled." in by_role(d, "list", "People found").text)
    assert by_role(bob, "button", "Log out")
    assert connection_state(bob) == "Connected"


def test_a_socket_the_server_keeps_closing_is_retried_less_and_less_often(chat_server, browser):
    bob = browser()
    # Every socket is closed as soon as it opens, as a server that cannot reach Redis does
    bob.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {
            "source": """
            window.socketsOpened = 0;
            window.WebSocket = class extends WebSocket {
              constructor(...args) {
                super(...args);
                window.socketsOpened += 1;
                this.addEventListener("open", () => this.close(4000));
              }
            };
            """
        },
    )
    bob.get(f"{chat_server}/app/")
    wait_until(bob, lambda d: by_label(d, "Username")).send_keys("bob_closed")
    by_label(bob, "Password").send_keys(PASSWORD)
    by_role(bob, "button", "Sign up").click()
    wait_until(bob, lambda d: d.execute_script("return window.socketsOpened") >= 1)
    bob.execute_script("return new Promise((done) => setTimeout(done, 8000))")
    # Pauses of about 1, 2, 4 s..., not a new socket every second
    assert bob.execute_script("return window.socketsOpened") <= 5
    assert connection_state(bob) != "Connected"


def test_keyboard_focus_stays_in_place(chat_server, browser):
    _, alice_token = register(chat_server, "alice_focus")
    _, carol_token = register(chat_server, "carol_focus")
    bob_id, _ = register(chat_server, "bob_focus")
    for token, text in ((carol_token, "from carol"), (alice_token, "from alice")):
        thread = call(chat_server, "POST", "/api/threads/", {"participants": [bob_id]}, token)
        post_messages(chat_server, thread["id"], token, [text])
    bob = browser(width=390, height=844)  # where a Back button leads to the inbox
    log_in(bob, chat_server, "bob_focus")

    # Reacting with the keyboard leaves focus on the message, not at the top of the page
    open_conversation(bob, "alice_focus")
    item = wait_until(bob, lambda d: message_item(d, "alice_focus", "from alice"))
    within(bob, item, "button", "React").send_keys(Keys.ENTER)
    wait_until(bob, lambda d: d.switch_to.active_element.accessible_name == "React with 👍")
    bob.switch_to.active_element.send_keys(Keys.ENTER)
    item = wait_until(
        bob,
        lambda d: within(d, message_item(d, "alice_focus", "from alice"), "button", "👍 1, yours"),
    )
    assert bob.switch_to.active_element.tag_name != "body"
    assert bob.execute_script(
        "return arguments[0].closest('li.message').contains(document.activeElement)", item
    )

    # Back from Carol's conversation (the second in the inbox), focus is on Carol's entry
    by_role(bob, "button", "Back to conversations").click()
    open_conversation(bob, "carol_focus")
    by_role(bob, "button", "Back to conversations").click()
    wait_until(bob, lambda d: d.switch_to.active_element == inbox_entry(d, "carol_focus"))


def test_opening_a_conversation_offline_says_so(chat_server, browser):
    written_to(chat_server, "alice_unreachable", "bob_unreachable", ["hello"])
    bob = browser()
    log_in(bob, chat_server, "bob_unreachable")
    go_offline(bob, True)
    inbox_entry(bob, "alice_unreachable").click()
    told = "No connection to the server."
    wait_until(bob, lambda d: any(told in alert.text for alert in all_by_role(d, "alert")))
    go_offline(bob, False)
    assert [
        error for error in console_errors(bob) if "ERR_INTERNET_DISCONNECTED" not in error
    ] == []


def test_the_reactions_on_offer_stay_open_when_the_message_changes(chat_server, browser):
    alice, bob = two_people(browser, chat_server, "alice_choosing", "bob_quick", "lunch?")
    open_conversation(bob, "alice_choosing")

    def offer(driver, other: str):
        """The message's React button, found afresh (live changes redraw the message)."""
        return within(driver, message_item(driver, other, "lunch?"), "button", "React")

    click(alice, lambda d: offer(d, "bob_quick"))
    wait_until(alice, lambda d: offer(d, "bob_quick").get_attribute("aria-expanded") == "true")

    react(bob, "alice_choosing", "lunch?", "👍")  # redraws the message on alice's page
    wait_until(alice, lambda d: within(d, message_item(d, "bob_quick", "lunch?"), "button", "👍 1"))

    assert offer(alice, "bob_quick").get_attribute("aria-expanded") == "true"
    click(
        alice,
        lambda d: within(d, message_item(d, "bob_quick", "lunch?"), "button", "React with 🎉"),
    )
    wait_until(
        bob, lambda d: within(d, message_item(d, "alice_choosing", "lunch?"), "button", "🎉 1")
    )
    # Chosen: the offer closes, as it does when nothing redrew the message.
    wait_until(alice, lambda d: offer(d, "bob_quick").get_attribute("aria-expanded") == "false")


def test_a_delete_being_confirmed_stays_so_when_the_message_changes(chat_server, browser):
    alice, bob = two_people(browser, chat_server, "alice_regrets", "bob_reads", "oops, wrong")

    def control(driver, other: str, name: str):
        return within(driver, message_item(driver, other, "oops, wrong"), "button", name)

    click(alice, lambda d: control(d, "bob_reads", "Delete"))
    wait_until(alice, lambda d: d.switch_to.active_element.accessible_name == "Yes, delete")

    open_conversation(bob, "alice_regrets")  # bob reads it: alice's receipt turns to Read
    react(bob, "alice_regrets", "oops, wrong", "😮")  # and reacts: drawn again for alice
    wait_until(alice, lambda d: control(d, "bob_reads", "😮 1"))

    # Still asking, with the keyboard still on the answer
    assert alice.switch_to.active_element.accessible_name == "Yes, delete"
    click(alice, lambda d: control(d, "bob_reads", "Yes, delete"))
    wait_until(bob, lambda d: "Message deleted" in messages(d, "alice_regrets"))


def test_taking_back_a_reaction_leaves_the_other_persons(chat_server, browser):
    alice, bob = two_people(browser, chat_server, "alice_takes_back", "bob_keeps", "vote?")
    open_conversation(bob, "alice_takes_back")
    for driver, other in ((alice, "bob_keeps"), (bob, "alice_takes_back")):
        react(driver, other, "vote?", "👍")
    for driver, other in ((alice, "bob_keeps"), (bob, "alice_takes_back")):
        wait_until(
            driver,
            lambda d, other=other: within(
                d, message_item(d, other, "vote?"), "button", "👍 2, yours"
            ),
        )

    click(
        alice, lambda d: within(d, message_item(d, "bob_keeps", "vote?"), "button", "👍 2, yours")
    )
    for driver, other in ((alice, "bob_keeps"), (bob, "alice_takes_back")):
        mine = "" if driver is alice else ", yours"
        wait_until(
            driver,
            lambda d, other=other, mine=mine: within(
                d, message_item(d, other, "vote?"), "button", f"👍 1{mine}"
            ),
        )
    # and it stays so once every answer and event is in
    alice.execute_script("return new Promise((done) => setTimeout(done, 1000))")
    within(alice, message_item(alice, "bob_keeps", "vote?"), "button", "👍 1")


def test_the_title_counts_unread_messages_beyond_the_first_page_of_conversations(
    chat_server, browser
):
    bob_id, _ = register(chat_server, "bob_popular")

    def fan_writes(number: int) -> None:
        _, token = register(chat_server, f"fan_{number}")
        thread = call(chat_server, "POST", "/api/threads/", {"participants": [bob_id]}, token)
        post_messages(chat_server, thread["id"], token, [f"hello from fan {number}"])

    with ThreadPoolExecutor(max_workers=4) as fans:  # sign-ups hash passwords: side by side
        list(fans.map(fan_writes, range(51)))  # one more than the inbox loads at first
    bob = browser()
    log_in(bob, chat_server, "bob_popular")
    wait_until(bob, lambda d: d.title == "(51) Chat")
    assert by_role(bob, "button", "More conversations")

    open_conversation(bob, "fan_50")
    wait_until(bob, lambda d: d.title == "(50) Chat")


def test_the_keyboard_stays_on_the_reaction_on_offer_when_the_same_one_arrives(
    chat_server, browser
):
    alice, bob = two_people(browser, chat_server, "alice_offered", "bob_same", "pizza?")
    open_conversation(bob, "alice_offered")  # bob reads it: alice's receipt turns to Read
    wait_until(alice, lambda d: "Read" in by_role(d, "log", "Conversation with bob_same").text)

    def control(driver, other: str, name: str):
        return within(driver, message_item(driver, other, "pizza?"), "button", name)

    # Alice opens the reactions on offer with the keyboard: it is on the first, 👍
    control(alice, "bob_same", "React").send_keys(Keys.ENTER)
    wait_until(alice, lambda d: d.switch_to.active_element.accessible_name == "React with 👍")

    react(bob, "alice_offered", "pizza?", "👍")  # the same one: drawn again for alice
    wait_until(alice, lambda d: control(d, "bob_same", "👍 1"))

    # Still on the one on offer, not on bob's 👍 beside the message
    assert alice.switch_to.active_element.accessible_name == "React with 👍"
    alice.switch_to.active_element.send_keys(Keys.ENTER)
    wait_until(alice, lambda d: control(d, "bob_same", "👍 2, yours"))
    wait_until(
        alice, lambda d: control(d, "bob_same", "React").get_attribute("aria-expanded") == "false"
    )


def test_the_keyboard_stays_on_an_inbox_entry_that_moves_to_the_top(chat_server, browser):
    _, carol_token = register(chat_server, "carol_moves")
    _, alice_token = register(chat_server, "alice_stays")
    bob_id, _ = register(chat_server, "bob_tabs")
    threads = {}
    for name, token in (("carol", carol_token), ("alice", alice_token)):
        threads[name] = call(
            chat_server, "POST", "/api/threads/", {"participants": [bob_id]}, token
        )
        post_messages(chat_server, threads[name]["id"], token, [f"hi from {name}"])
    bob = browser()
    log_in(bob, chat_server, "bob_tabs")

    # Bob's keyboard is on Carol's entry, the second: Alice's conversation is newer
    tab_to(bob, wait_until(bob, lambda d: inbox_entry(d, "carol_moves")))
    post_messages(chat_server, threads["carol"]["id"], carol_token, ["are you there?"])
    wait_until(bob, lambda d: "are you there?" in inbox_entry(d, "carol_moves").accessible_name)
    first = by_role(bob, "list", "Conversations").find_element("css selector", "button")
    assert first == inbox_entry(bob, "carol_moves")

    # Carol's entry went to the top, and the keyboard with it
    assert bob.switch_to.active_element == inbox_entry(bob, "carol_moves")


def test_an_edit_under_way_stays_when_another_message_is_being_edited_too(chat_server, browser):
    alice, bob = two_people(browser, chat_server, "alice_two_edits", "bob_reacts_first", "frist")
    send(alice, "secnod")
    wait_until(alice, lambda d: shows(d, "bob_reacts_first", ["frist", "secnod"]))
    open_conversation(bob, "alice_two_edits")
    wait_until(bob, lambda d: shows(d, "alice_two_edits", ["frist", "secnod"]))

    def edit_button(driver, text: str):
        return within(driver, message_item(driver, "bob_reacts_first", text), "button", "Edit")

    # Alice starts correcting the first, then the second, before saving either
    click(alice, lambda d: edit_button(d, "frist"))
    box = wait_until(alice, lambda d: by_label(d, "Edit message"))
    box.clear()
    box.send_keys("first")
    click(alice, lambda d: edit_button(d, "secnod"))
    wait_until(alice, lambda d: len(all_by_role(d, "textbox", "Edit message")) == 2)

    # Bob reacts to the first, then writes: his reaction has reached alice's page before that
    react(bob, "alice_two_edits", "frist", "👍")
    send(bob, "ok")
    wait_until(alice, lambda d: "ok" in messages(d, "bob_reacts_first"))

    # Her correction of the first is still there, unsaved, and saves
    boxes = all_by_role(alice, "textbox", "Edit message")
    assert [box.get_attribute("value") for box in boxes] == ["first", "secnod"]
    boxes[0].send_keys(Keys.ENTER)
    wait_until(
        alice, lambda d: within(d, message_item(d, "bob_reacts_first", "first"), "button", "👍 1")
    )
    wait_until(bob, lambda d: shows(d, "alice_two_edits", ["first", "secnod", "ok"]))


def test_the_search_hit_stays_highlighted_when_the_message_changes(chat_server, browser):
    texts = ["the address is 12 Elm St", "see you", "bring a cake"]
    written = written_to(chat_server, "alice_found", "bob_searches", texts)
    bob = browser()
    log_in(bob, chat_server, "bob_searches")
    open_conversation(bob, "alice_found")
    by_label(bob, "Search this conversation").send_keys("address\n")
    click(bob, lambda d: by_role_named(d, "button", re.compile(r"^alice_found: the address ")))
    hit = wait_until(bob, lambda d: message_item(d, "alice_found", "the address is 12 Elm St"))
    wait_until(bob, lambda d: d.switch_to.active_element == hit)
    assert "found" in hit.get_attribute("class")

    # Alice reacts to it (from another client): drawn again on bob's page
    thumbs = urllib.parse.quote("👍")
    message = written.sent[0]["id"]
    path = f"/api/threads/{written.thread}/messages/{message}/reactions/{thumbs}"
    call(chat_server, "PUT", path, token=written.writer_token)
    found = "the address is 12 Elm St"
    wait_until(bob, lambda d: within(d, message_item(d, "alice_found", found), "button", "👍 1"))

    hit = message_item(bob, "alice_found", found)
    assert "found" in hit.get_attribute("class")
    assert bob.switch_to.active_element == hit
