"""
The web client in real Chromium, loaded from wampd running its built-in default configuration: the
ticker, the calculator (with progress and cancel), the chat between two browsers, the key-value
store, and reconnecting when the router restarts. A screenshot goes to test-artifacts/.
"""

import re
import socket
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, launch

#: upper bound for anything the page should show, in milliseconds
WAIT = 10_000
#: primes up to 2,000,000, as the page formats it (en-US)
PRIMES_2M = "148,933"


@pytest.fixture
def expect(browser):
    """
    Playwright's ``expect`` (imported once the browser fixture has made sure Playwright is installed).
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT)
    return expect


class Pages:
    """
    Opens pages, each in its own browser context (its own WAMP session), and collects their errors.
    """

    def __init__(self, browser: Any, app: Any, expect: Any) -> None:
        self._browser = browser
        self._app = app
        self._expect = expect
        self.contexts: list[Any] = []
        #: uncaught exceptions and console errors of every page
        self.errors: list[str] = []
        #: console errors a test expects (e.g. failed connection attempts while the router is away)
        self.expected = re.compile(r"$^")

    def open(self, url: str | None = None) -> Any:
        """
        A new page on the app, once it shows the connection open.
        """
        context = self._browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900},
                                            **self._app.context_options)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.errors.append("page error: {}".format(error)))
        page.on("console", self._console)
        page.goto(url or self._app.url)
        self._expect(page.locator("#connection")).to_have_attribute("data-state", "open")
        return page

    def _console(self, message: Any) -> None:
        if message.type == "error" and not self.expected.search(message.text):
            self.errors.append("console error: {}".format(message.text))

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser, app, expect):
    opened = Pages(browser, app, expect)
    yield opened
    opened.close()
    assert opened.errors == []


def test_page_connects_and_the_ticker_updates(pages, app, expect):
    """The page connects over ws:// or wss:// to match the page's scheme, and the tick counter keeps rising."""
    page = pages.open()
    expect(page.locator("#ws-url")).to_have_text("{}://127.0.0.1:{}/ws".format(
        "wss" if app.scheme == "https" else "ws", app.port))
    expect(page.locator("#connection")).to_contain_text("Connected (session ")
    counter = page.locator("#tick-counter")
    expect(counter).to_have_attribute("data-counter", re.compile(r"^\d+$"))
    first = int(counter.get_attribute("data-counter"))
    page.wait_for_function("n => Number(document.getElementById('tick-counter').dataset.counter) >= n + 2",
                           arg=first, timeout=WAIT)
    expect(page.locator("#tick-time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT.*Z$"))


def test_calculator_answers_and_shows_errors(pages, expect):
    """Adding shows the sum; dividing by zero shows the calculator's error URI."""
    page = pages.open()
    page.get_by_label("First number", exact=True).fill("6")
    page.get_by_label("Second number", exact=True).fill("7")
    page.get_by_label("Operation", exact=True).select_option("add")
    page.get_by_role("button", name="=", exact=True).click()
    expect(page.locator("#calc-result")).to_have_text("13")
    page.get_by_label("Operation", exact=True).select_option("divide")
    page.get_by_label("Second number", exact=True).fill("0")
    page.get_by_role("button", name="=", exact=True).click()
    expect(page.locator("#calc-result")).to_contain_text("com.example.calculator.error.division_by_zero")


def start_primes(page: Any, expect: Any) -> None:
    page.get_by_label("Up to", exact=True).fill("2000000")
    page.get_by_role("button", name="Start", exact=True).click()
    expect(page.locator("#primes-status")).to_have_attribute("data-state", "running")


def test_calculator_progress_arrives_until_the_result(pages, expect):
    """A primes call moves the progress bar step by step, then shows the count."""
    page = pages.open()
    start_primes(page, expect)
    page.wait_for_function("Number(document.getElementById('primes-status').dataset.done) >= 3", timeout=WAIT)
    value = page.locator("#primes-progress").evaluate("bar => bar.value")
    assert 0 < value < 100
    expect(page.get_by_role("button", name="Cancel", exact=True)).to_be_enabled()
    expect(page.locator("#primes-status")).to_have_attribute("data-state", "done")
    expect(page.locator("#primes-status")).to_contain_text(PRIMES_2M + " primes up to 2,000,000")
    assert page.locator("#primes-progress").evaluate("bar => bar.value") == 100
    expect(page.get_by_role("button", name="Cancel", exact=True)).to_be_disabled()


def test_calculator_cancel_stops_the_call(pages, expect):
    """Cancel ends a running primes call: the status says canceled and no more progress arrives."""
    page = pages.open()
    start_primes(page, expect)
    page.wait_for_function("Number(document.getElementById('primes-status').dataset.done) >= 2", timeout=WAIT)
    page.get_by_role("button", name="Cancel", exact=True).click()
    status = page.locator("#primes-status")
    expect(status).to_have_attribute("data-state", "canceled")
    expect(status).to_contain_text("canceled after")
    done = status.get_attribute("data-done")
    page.wait_for_timeout(600)
    assert status.get_attribute("data-done") == done
    assert page.locator("#primes-progress").evaluate("bar => bar.value") < 100
    expect(page.get_by_role("button", name="Start", exact=True)).to_be_enabled()


def join_chat(page: Any, nick: str, expect: Any) -> None:
    page.get_by_label("Nick", exact=True).fill(nick)
    page.get_by_role("button", name="Join", exact=True).click()
    expect(page.locator("#chat-status")).to_have_attribute("data-state", "joined")


def send_chat(page: Any, text: str) -> None:
    page.get_by_label("Message", exact=True).fill(text)
    page.get_by_role("button", name="Send", exact=True).click()


def test_two_browsers_chat_and_see_each_other(pages, expect):
    """Two browsers see each other's messages and presence; a closed browser leaves; a late one gets the history."""
    alice = pages.open()
    bob = pages.open()
    join_chat(alice, "alice", expect)
    join_chat(bob, "bob", expect)
    for page, names in ((alice, ("alice (you)", "bob")), (bob, ("alice", "bob (you)"))):
        presence = page.locator("#chat-presence li")
        for name in names:
            expect(presence.filter(has_text=re.compile("^{}$".format(re.escape(name))))).to_have_count(1)

    send_chat(alice, "hello from alice")
    expect(bob.locator("#chat-messages li").last).to_contain_text("alice: hello from alice")
    send_chat(bob, "hi alice")
    expect(alice.locator("#chat-messages li").last).to_contain_text("bob: hi alice")
    expect(alice.locator("#chat-messages li").nth(-2)).to_contain_text("alice: hello from alice")

    late = pages.open()
    expect(late.locator("#chat-messages li").last).to_contain_text("bob: hi alice")
    expect(late.locator("#chat-messages li").nth(-2)).to_contain_text("alice: hello from alice")
    expect(late.locator("#chat-presence")).to_contain_text("bob")

    bob.context.close()
    expect(alice.locator("#chat-presence")).not_to_contain_text("bob")
    expect(alice.locator("#chat-presence")).to_contain_text("alice (you)")


def test_key_value_changes_reach_every_browser(pages, expect):
    """A key set in one browser appears in another, and a delete there removes it in the first."""
    writer = pages.open()
    reader = pages.open()
    writer.get_by_label("Key", exact=True).fill("color")
    writer.get_by_label("Value", exact=True).fill("blue")
    writer.get_by_role("button", name="Set", exact=True).click()
    expect(reader.locator('#kv-entries tr[data-key="color"] td').first).to_have_text("blue")
    reader.get_by_role("button", name="Delete color", exact=True).click()
    expect(writer.locator('#kv-entries tr[data-key="color"]')).to_have_count(0)
    expect(writer.locator("#kv-empty")).to_be_visible()


def test_screenshot_of_the_app_in_use(pages, app, expect):
    """With every part in use the page renders; the screenshot is saved under test-artifacts/."""
    page = pages.open()
    join_chat(page, "screenshot", expect)
    send_chat(page, "Hello from the browser test")
    page.get_by_label("Key", exact=True).fill("greeting")
    page.get_by_label("Value", exact=True).fill("hello")
    page.get_by_role("button", name="Set", exact=True).click()
    page.get_by_label("Up to", exact=True).fill("1000000")
    page.get_by_role("button", name="Start", exact=True).click()
    page.wait_for_function("Number(document.getElementById('primes-status').dataset.done) >= 8", timeout=WAIT)
    expect(page.locator("#kv-entries tr")).not_to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "web-client-{}.png".format(app.scheme)
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_page_reconnects_when_the_router_restarts(pages, app, expect, tmp_path):
    """When wampd goes away the page says it is reconnecting, and it reconnects by itself when wampd is back."""
    # expected while wampd is away: failed connection attempts, and AutobahnJS 22.11 sending its
    # GOODBYE reply after it has already closed the WebSocket the router's GOODBYE arrived on
    pages.expected = re.compile(r"WebSocket connection to .* failed|WebSocket is already in CLOSING or CLOSED state")
    port = free_port()
    first = launch(app.scheme, tmp_path, port)
    try:
        page = pages.open(first.url)
    finally:
        assert first.wampd.stop() == 0, first.wampd.output
    status = page.locator("#connection")
    expect(status).to_have_attribute("data-state", "reconnecting")
    expect(status).to_contain_text("reconnecting in")
    expect(page.get_by_role("button", name="=", exact=True)).to_be_disabled()
    second = launch(app.scheme, tmp_path, port)
    try:
        expect(status).to_have_attribute("data-state", "open", timeout=20_000)
        counter = page.locator("#tick-counter")
        first_tick = int(counter.get_attribute("data-counter") or 0)
        page.wait_for_function("n => Number(document.getElementById('tick-counter').dataset.counter) != n",
                               arg=first_tick, timeout=WAIT)
        page.get_by_role("button", name="=", exact=True).click()
        expect(page.locator("#calc-result")).not_to_have_text("…")
    finally:
        assert second.wampd.stop() == 0, second.wampd.output
