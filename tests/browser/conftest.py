"""Shared Chromium fixtures for the browser tests (marker ``browser``).

Chromium is Debian's (``apt-get install -y chromium`` -> /usr/bin/chromium); Playwright never
downloads a browser here. Override the binary with ``MP_CHROMIUM``.

- ``chromium_browser`` (session): one headless Chromium for the whole run.
- ``page`` (function): a fresh context + page at 1280x800 that records console messages and
  page errors; the test fails at teardown on any console error or uncaught exception, unless
  the test declared it with ``console.allow(r"regex")``.
- ``console``: that recorder (``console.messages``, ``console.errors``, ``console.allow``).
- ``artifacts_dir``: ``test-artifacts/`` (created), for screenshots.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.browser_kit import ARTIFACTS, CHROMIUM_ARGS, DESKTOP, ConsoleRecorder, chromium_path

sync_api = pytest.importorskip("playwright.sync_api")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the web page in headless Chromium")


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[sync_api.Playwright]:
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def chromium_browser(playwright_instance: sync_api.Playwright) -> Iterator[sync_api.Browser]:
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium not installed (apt-get install -y chromium)")
    browser = playwright_instance.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def console() -> ConsoleRecorder:
    return ConsoleRecorder()


@pytest.fixture
def page(chromium_browser: sync_api.Browser, console: ConsoleRecorder) -> Iterator[sync_api.Page]:
    context = chromium_browser.new_context(viewport=DESKTOP, accept_downloads=True)
    context.set_default_timeout(10_000)
    pg = context.new_page()
    pg.on("console", console.on_console)
    pg.on("pageerror", console.on_page_error)
    yield pg
    context.close()
    unexpected = console.unexpected()
    if unexpected:
        pytest.fail("browser console errors:\n" + "\n".join(unexpected), pytrace=False)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
