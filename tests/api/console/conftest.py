"""Browser tests of the web console: Playwright driving Debian's Chromium (/usr/bin/chromium) against a
real API under gunicorn and a real worker, on the test's settings (tests/api/conftest.py's fixtures).

    def test_x(console, browser_page, sign_in, make_user):
        make_user("ops", "operator")
        page = browser_page()
        sign_in(page, "ops")
        page.goto(console.url + "/tools")

Without /usr/bin/chromium the tests skip (`apt-get install chromium`); without the console's front-end
packages they fail (`make console-assets`).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.console.blueprint import VENDOR_DIR, VENDOR_FILES
from tests.api.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
# How long a browser action or an `expect(...)` waits: generous, as the machine may be busy.
WAIT_MS = 15000
# Each console page holds one event stream, which holds a server thread until the server notices the
# page left (its next keep-alive): room for a test that walks through pages quickly.
WEB_THREADS = 16
# A page's event stream notices its browser left only at its next keep-alive (15 s): gunicorn need not
# wait that long for it at the end of a test.
WEB_ENV = {"MCPS_MCP__JOBS__EVENT_STREAMS_PER_USER": "12", "MCPS_RATE_LIMITS__MANAGEMENT": "100000 per minute",
           "GUNICORN_CMD_ARGS": "--graceful-timeout 1"}


@dataclass
class Console:
    url: str
    web: object

    def at(self, path: str) -> str:
        return self.url + path


@pytest.fixture(scope="module")
def chromium():
    """A headless Chromium of the machine (Playwright's own browser builds are not used).

    One per test module, not per session: Playwright's sync API keeps an asyncio loop running in the main
    thread while it is started, and its browser's helper processes come and go; the next module run by the
    same pytest process (asyncio.run, anyio, a process census) must find neither."""
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install chromium (Debian) to run the browser tests")
    missing = [name for name in VENDOR_FILES if not (VENDOR_DIR / name).is_file()]
    if missing:
        pytest.fail(f"the console's front-end packages are missing ({', '.join(missing)}): run `make console-assets`")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield browser
        browser.close()


@pytest.fixture
def console(app, start_web, settings):
    """The API (and so the console) under gunicorn on the test's settings and database."""
    web = start_web(settings, threads=WEB_THREADS, extra_env=WEB_ENV)
    return Console(url=web.url, web=web)


@pytest.fixture
def browser_page(chromium, console):
    """browser_page(): a new page in a fresh browser context (its own cookies); all closed after the test.
    Console errors of the page (a CSP violation, a script error) are collected in `page.console_errors`."""
    contexts = []

    def make():
        context = chromium.new_context(base_url=console.url)
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        page = context.new_page()
        page.console_errors = []
        page.on("console", lambda message: message.type == "error" and page.console_errors.append(message.text))
        page.on("pageerror", lambda error: page.console_errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def sign_in(console):
    """sign_in(page, username, password=PASSWORD): through the sign-in page; waits for the overview."""
    def do(page, username: str, password: str = PASSWORD, next_path: str = "/"):
        page.goto(console.at("/login?next=" + next_path))
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(console.at(next_path))
        return page
    return do


@pytest.fixture
def screenshot():
    """screenshot(page, name): saved as <name>.png in $MCPS_CONSOLE_SCREENSHOTS when set (to see the pages)."""
    import os

    folder = os.environ.get("MCPS_CONSOLE_SCREENSHOTS")

    def take(page, name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
    return take
