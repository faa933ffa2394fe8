"""Shared Chromium fixtures for the browser tests (marker ``browser``).

Chromium is Debian's (``apt-get install -y chromium`` → /usr/bin/chromium); Playwright never
downloads a browser here. Override the binary with ``MP_CHROMIUM``.

- ``chromium_browser`` (session): one headless Chromium for the whole run.
- ``page`` (function): a fresh context + page at 1280x800 that records console messages and
  page errors; the test fails at teardown on any console error or uncaught exception, unless
  the test declared it with ``console.allow(r"regex")``.
- ``console``: the recorder (``console.messages``, ``console.errors``, ``console.allow``).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sync_api = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the web page in headless Chromium")


def chromium_path() -> str | None:
    candidate = os.environ.get("MP_CHROMIUM") or "/usr/bin/chromium"
    if Path(candidate).exists():
        return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class ConsoleRecorder:
    messages: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Declare an expected console error (e.g. the browser's log line for a deliberate 4xx)."""
        self.allowed.append(re.compile(pattern))

    def on_console(self, msg: sync_api.ConsoleMessage) -> None:
        self.messages.append((msg.type, msg.text))
        if msg.type == "error":
            self.errors.append(f"console.error: {msg.text} @ {msg.location.get('url', '')}")

    def on_page_error(self, exc: Exception) -> None:
        self.errors.append(f"uncaught: {exc}")

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]

    def of_type(self, kind: str) -> list[str]:
        return [text for t, text in self.messages if t == kind]


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
