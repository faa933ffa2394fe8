"""Shared pieces of the browser tests: Chromium flags, viewports, the console recorder, photos."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
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


def chromium_path() -> str | None:
    """Debian's Chromium (``apt-get install -y chromium``), or ``MP_CHROMIUM``."""
    candidate = os.environ.get("MP_CHROMIUM") or "/usr/bin/chromium"
    if Path(candidate).exists():
        return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class ConsoleRecorder:
    """Every console message and uncaught page error of one page."""

    messages: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Declare an expected console error (e.g. the browser's log line for a deliberate 4xx)."""
        self.allowed.append(re.compile(pattern))

    def on_console(self, msg: Any) -> None:
        self.messages.append((msg.type, msg.text))
        if msg.type == "error":
            self.errors.append(f"console.error: {msg.text} @ {msg.location.get('url', '')}")

    def on_page_error(self, exc: Exception) -> None:
        self.errors.append(f"uncaught: {exc}")

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]

    def of_type(self, kind: str) -> list[str]:
        return [text for t, text in self.messages if t == kind]


def save_matrix_screenshots(page: Any, artifacts_dir: Path, name: str) -> list[Path]:
    """The viewport showing the matrix, and the whole matrix table (also the part scrolled sideways)."""
    size = page.viewport_size or DESKTOP
    suffix = f"{size['width']}x{size['height']}"
    page.evaluate("window.scrollTo(0, 0)")
    if size["width"] <= 800:
        page.locator(".matrix-panel").scroll_into_view_if_needed()
    shots = [artifacts_dir / f"{name}-{suffix}.png", artifacts_dir / f"{name}-full-{suffix}.png"]
    page.screenshot(path=str(shots[0]))
    # let the table overflow its scroller, with nothing drawn over it, for one picture
    toggle = """on => {
        document.querySelector('.matrix-scroll').style.overflow = on ? 'visible' : '';
        for (const sel of ['.tray', '.jobs-fab', '.toasts']) {
            document.querySelector(sel).style.visibility = on ? 'hidden' : '';
        }
    }"""
    page.evaluate(toggle, True)
    page.locator("table.matrix").screenshot(path=str(shots[1]))
    page.evaluate(toggle, False)
    return shots


def make_photos(folder: Path, count: int = 3) -> list[Path]:
    """Small, distinct JPEGs standing in for a dealer's phone photos."""
    paths = []
    for i in range(count):
        path = folder / f"car-{i}.jpg"
        img = Image.new("RGB", (320, 240), (70 + 40 * i, 72, 80))
        # a dim "car" so the stand-in has something to look at
        img.paste((30 + 20 * i, 30, 36), (60, 120, 260, 180))
        img.save(path, "JPEG", quality=80)
        paths.append(path)
    return paths
