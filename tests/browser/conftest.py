"""Browser fixtures: the app served on a free local port, and Debian's Chromium driven by Playwright.

The server wraps the `app` fixture, which is parametrized over SQLite and PostgreSQL, so each browser test runs
on both engines. Chromium is the system one (/usr/bin/chromium): no browser is ever downloaded. Without it the
tests are skipped locally and fail in CI, where a missing browser is an error, never a silent skip.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.conftest import unavailable

try:
    from playwright.sync_api import expect

    # as long as an action may take (the tablet pages' default below): on CI's 2 shared cores, with the suite's
    # other worker beside it, a page can take longer than Playwright's default 5 s to show what a test expects
    expect.set_options(timeout=10_000)
except ImportError:  # the browser tests say so themselves (tests.conftest.unavailable)
    pass

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# A 10-inch tablet (e.g. 1280x800 at a device pixel ratio of 1), held either way.
LANDSCAPE = {"width": 1280, "height": 800}
PORTRAIT = {"width": 800, "height": 1280}


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The app on 127.0.0.1 at a free port, in a daemon thread; yields the base URL, shuts down after the test."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, launched once for the session through Playwright's sync API."""
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def tablet_page(browser, base_url: str) -> Iterator:
    """A fresh tablet-sized page (own cookies, Vietnamese locale) whose relative URLs go to `base_url`."""
    context = browser.new_context(base_url=base_url, viewport=LANDSCAPE, device_scale_factor=1,
                                  locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        page.close()
        context.close()


def download(link, path: Path) -> str:
    """Click `link` and save the file it downloads at `path`. Returns the name the server suggested."""
    with link.page.expect_download() as started:
        link.click()
    started.value.save_as(path)
    return started.value.suggested_filename


@pytest.fixture
def page(browser, live_server):
    """A tablet page on the live server. It depends on live_server so that it is closed first: the browser
    drops its keep-alive connections before the server shuts down."""
    with tablet_page(browser, live_server) as page:
        yield page
