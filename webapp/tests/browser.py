"""Driving the chat page in a real browser: Debian's Chromium through its chromedriver,
with controls found the way a screen reader finds them, by role and accessible name in
Chromium's own accessibility tree (the DevTools protocol's `Accessibility.queryAXTree`).

A test module that imports this one is skipped whole where Selenium, Chromium or
chromedriver is missing, so `make test` passes on a bare machine; CI installs both
(.ci/run). For that, a test module takes the Selenium names it needs from here (they are
re-exported below), never from selenium itself, whose import would fail first. The
fixtures (`chat_server`, `browser`) are in this folder's conftest.py.
"""

import os
import re
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
NOT_INSTALLED = (
    "Chromium and chromedriver are not installed (apt-get install chromium chromium-driver); "
    "the browser tests run in CI"
)
# The README's pictures of the page are written over by `make screenshots`
# (UPDATE_SCREENSHOTS=1); other runs take them into a temporary folder, so that a test run
# leaves the work tree as it found it (the pictures show the time of day).
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "chat-screenshots"
)

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support.wait import WebDriverWait
except ImportError:
    pytest.skip(
        "Selenium is not installed (pip install -r requirements-dev.txt); "
        "the browser tests run in CI",
        allow_module_level=True,
    )

if not all(os.access(program, os.X_OK) for program in (CHROMIUM, CHROMEDRIVER)):
    pytest.skip(NOT_INSTALLED, allow_module_level=True)

__all__ = [
    "Keys",
    "NoSuchElementException",
    "WebDriver",
    "WebElement",
    "all_by_role",
    "by_label",
    "by_role",
    "console_errors",
    "new_chrome",
    "save_screenshot",
    "wait_until",
]

T = TypeVar("T")


def new_chrome(*, width: int = 1280, height: int = 900) -> WebDriver:
    """A headless Chromium with a fresh profile (its own storage: one per user in a test),
    a viewport of exactly `width` x `height` CSS pixels, and its console kept for
    `console_errors`."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    options.add_argument("--headless=new")
    options.add_argument("--no-sandbox")  # the tests run as root, where the sandbox cannot
    options.add_argument("--disable-dev-shm-usage")  # containers' /dev/shm is tiny
    options.add_argument(f"--window-size={width},{height}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # A driver path given skips Selenium Manager, which would download a driver of its own.
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    # A window is never narrower than 500 px: a phone's width is emulated. The tab keeps
    # it across navigations.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    return driver


# What counts as "not yet" while waiting: a control not there yet, or one the page drew
# again (a live event re-rendering a message) between finding it and using it.
NOT_YET = (NoSuchElementException, StaleElementReferenceException)


def wait_until(driver: WebDriver, condition: Callable[[WebDriver], T], timeout: float = 10) -> T:
    """Call `condition(driver)` until it returns something truthy and return that; a
    control not there yet, or redrawn meanwhile, counts as not yet (NOT_YET)."""
    return WebDriverWait(driver, timeout, ignored_exceptions=NOT_YET).until(condition)


def click(driver: WebDriver, find: Callable[[WebDriver], WebElement], timeout: float = 10) -> None:
    """Click what `find(driver)` finds, finding it again if the page redrew it first."""

    def clicked(driver: WebDriver) -> bool:
        find(driver).click()
        return True

    wait_until(driver, clicked, timeout)


def _accessibility_nodes(driver: WebDriver, **query: str) -> list[dict]:
    """The nodes of the page's accessibility tree that match `query` (role, accessibleName).
    What is hidden from assistive technology (display: none, aria-hidden, inert) is not
    among them: Chromium leaves it out, and the protocol's "ignored" nodes are dropped."""
    document = driver.execute_cdp_cmd("DOM.getDocument", {"depth": 0})
    found = driver.execute_cdp_cmd(
        "Accessibility.queryAXTree", {"backendNodeId": document["root"]["backendNodeId"], **query}
    )
    return [
        node for node in found["nodes"] if not node.get("ignored") and "backendDOMNodeId" in node
    ]


def _element(driver: WebDriver, node: dict) -> WebElement:
    """The WebElement of an accessibility node: the protocol hands the DOM node to the page's
    JavaScript, which hands it to WebDriver (there is no direct way from one to the other)."""
    key = f"__accessibilityQuery_{uuid.uuid4().hex}"
    resolved = driver.execute_cdp_cmd(
        "DOM.resolveNode", {"backendNodeId": node["backendDOMNodeId"], "objectGroup": key}
    )
    try:
        driver.execute_cdp_cmd(
            "Runtime.callFunctionOn",
            {
                "objectId": resolved["object"]["objectId"],
                "functionDeclaration": f"function () {{ window.{key} = this; }}",
            },
        )
    finally:
        driver.execute_cdp_cmd("Runtime.releaseObjectGroup", {"objectGroup": key})
    return driver.execute_script(f"const found = window.{key}; delete window.{key}; return found;")


def _only(driver: WebDriver, nodes: list[dict], what: str) -> WebElement:
    if len(nodes) != 1:
        raise NoSuchElementException(f"{len(nodes)} elements are {what}, not exactly one")
    return _element(driver, nodes[0])


def all_by_role(driver: WebDriver, role: str, name: str | None = None) -> list[WebElement]:
    """Every visible element of ARIA `role` ("button", "textbox", "link", "list", ...), with
    accessible name `name` if given (exact, as Chromium computes it)."""
    query = {"role": role} if name is None else {"role": role, "accessibleName": name}
    return [_element(driver, node) for node in _accessibility_nodes(driver, **query)]


def by_role(driver: WebDriver, role: str, name: str) -> WebElement:
    """The one visible element of ARIA `role` named `name`: a button by its text or
    aria-label, a field by its label, a link by its text. Raises NoSuchElementException
    when there is none or several (so `wait_until` waits for it)."""
    nodes = _accessibility_nodes(driver, role=role, accessibleName=name)
    return _only(driver, nodes, f"{role} {name!r}")


def _named_by_label(node: dict) -> bool:
    """Whether the node's name comes from a <label>, aria-labelledby or aria-label: not a
    placeholder or a title, which Chromium also names a field by, but which vanish as the
    user types or show only on hover."""
    sources = node.get("name", {}).get("sources", [])
    source = next((s for s in sources if "value" in s and not s.get("superseded")), {})
    return source.get("type") == "relatedElement" or (
        source.get("type") == "attribute" and source.get("attribute") == "aria-label"
    )


def by_label(driver: WebDriver, label: str) -> WebElement:
    """The one visible element labelled `label` by a <label>, aria-labelledby or aria-label
    (a placeholder is not a label). Raises NoSuchElementException when there is none or
    several."""
    # The whole tree, filtered here: queryAXTree misses a file input named by its <label>.
    tree = driver.execute_cdp_cmd("Accessibility.getFullAXTree", {})["nodes"]
    nodes = [
        node
        for node in tree
        if not node["ignored"]
        and "backendDOMNodeId" in node
        and node.get("name", {}).get("value") == label
        and _named_by_label(node)
    ]
    return _only(driver, nodes, f"labelled {label!r}")


def console_errors(driver: WebDriver) -> list[str]:
    """The browser console's errors since the last call: uncaught exceptions, console.error,
    resources that failed to load, Content-Security-Policy violations. Not the 401 of the
    page's first question, whether this browser holds a session (POST /api/session/refresh/
    without its cookie): the API's documented answer, which Chromium logs as a failed load."""
    origin = driver.execute_script("return location.origin")
    no_session = (
        f"{origin}/api/session/refresh/ - Failed to load resource: "
        "the server responded with a status of 401"
    )
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and not entry["message"].startswith(no_session)
    ]


def save_screenshot(driver: WebDriver, name: str, folder: Path = SCREENSHOTS) -> Path:
    """Save what the browser window shows as `<folder>/<name>.png` (by default SCREENSHOTS:
    docs/screenshots on `make screenshots`, where the README's pictures come from)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    if not driver.save_screenshot(str(path)):
        raise OSError(f"the screenshot {path} could not be written")
    return path


def by_role_named(driver: WebDriver, role: str, pattern: "re.Pattern[str]") -> WebElement:
    """The one visible element of `role` whose accessible name matches `pattern` (searched):
    for controls whose name carries changing parts, like an inbox entry's unread count."""
    nodes = [
        node
        for node in _accessibility_nodes(driver, role=role)
        if pattern.search(node.get("name", {}).get("value", ""))
    ]
    return _only(driver, nodes, f"{role} matching {pattern.pattern!r}")


def within(driver: WebDriver, scope: WebElement, role: str, name: str) -> WebElement:
    """The one visible element of `role` named `name` inside `scope` (one message's Edit
    button among every message's, say)."""
    inside = [
        element
        for element in all_by_role(driver, role, name)
        if driver.execute_script("return arguments[0].contains(arguments[1])", scope, element)
    ]
    if len(inside) != 1:
        raise NoSuchElementException(f"{len(inside)} elements are {role} {name!r} in the scope")
    return inside[0]
