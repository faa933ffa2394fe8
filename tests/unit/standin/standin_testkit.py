"""Helpers for the stand-in tests: synthetic car photos, a fake network, image measurements."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from PIL import Image, ImageChops, ImageDraw

from replicate_standin import StandinSettings, StandinStore, create_app

if TYPE_CHECKING:
    from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parents[3]
IMAGES = "http://images.test"
HOOK = "http://hooks.test/replicate"
MODEL_PATH = "/v1/models/google/nano-banana/predictions"


def car_photo(
    colour: tuple[int, int, int] = (30, 60, 170),
    size: tuple[int, int] = (1200, 900),
    light: float = 0.55,
    image_format: str = "JPEG",
) -> bytes:
    """A poorly lit photo of a (very simple) car in a garage."""
    width, height = size
    image = Image.new("RGB", size, (70, 66, 62))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, int(height * 0.7), width, height), fill=(52, 50, 48))
    draw.rounded_rectangle((width * 0.15, height * 0.45, width * 0.85, height * 0.68), radius=30, fill=colour)
    draw.polygon(
        [
            (width * 0.3, height * 0.46),
            (width * 0.38, height * 0.3),
            (width * 0.62, height * 0.3),
            (width * 0.72, height * 0.46),
        ],
        fill=colour,
    )
    draw.polygon(
        [
            (width * 0.33, height * 0.45),
            (width * 0.4, height * 0.33),
            (width * 0.49, height * 0.33),
            (width * 0.49, height * 0.45),
        ],
        fill=(90, 100, 110),
    )
    for centre in (width * 0.3, width * 0.7):
        draw.ellipse((centre - 70, height * 0.6, centre + 70, height * 0.6 + 140), fill=(15, 15, 15))
    image = image.point(lambda v: int(v * light))
    buffer = io.BytesIO()
    image.save(buffer, format=image_format)
    return buffer.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def load_prompts() -> dict[str, str]:
    """The sample GlobalPrompts templates (the real wording the backend sends)."""
    import csv

    with (ROOT / "samples" / "presets" / "global_prompts.csv").open(encoding="utf-8-sig") as handle:
        return {row["key"].strip(): row["prompt_template"] for row in csv.DictReader(handle)}


def angle_prompt(desc: str = "front three-quarter view from the front right corner at 45 degrees") -> str:
    return load_prompts()["angle_generation"].replace("{{ANGLE_DESC}}", desc)


def colour_prompt(value: str = "Red #C00000 (metallic)") -> str:
    return load_prompts()["colorization"].replace("{{COLOR_NAME}}", value)


def colour_counts(data: bytes, margin: int = 60) -> dict[str, float]:
    """Fractions of pixels that are clearly red / green / blue dominant."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    red, green, blue = image.split()
    total = image.width * image.height

    def dominant(channel: Image.Image, other_a: Image.Image, other_b: Image.Image) -> float:
        strongest_other = ImageChops.lighter(other_a, other_b)
        excess = ImageChops.subtract(channel, strongest_other)
        histogram = excess.histogram()
        return sum(histogram[margin:]) / total

    return {
        "red": dominant(red, green, blue),
        "green": dominant(green, red, blue),
        "blue": dominant(blue, red, green),
    }


@dataclass
class Webhook:
    headers: dict[str, str]
    body: str
    received_at: float

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass
class FakeNetwork:
    """Everything the stand-in reaches over HTTP, in memory (no sockets).

    ``images.test`` serves ``images[path]``; ``hooks.test`` records webhooks and answers
    the next status of ``hook_statuses`` (200 when empty).
    """

    images: dict[str, bytes] = field(default_factory=dict)
    webhooks: list[Webhook] = field(default_factory=list)
    hook_statuses: list[int] = field(default_factory=list)
    image_requests: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            if request.url.host == "images.test":
                self.image_requests.append(str(request.url))
                data = self.images.get(request.url.path)
                if data is None:
                    return httpx.Response(404, text="no such image")
                return httpx.Response(200, content=data, headers={"content-type": "image/jpeg"})
            if request.url.host == "hooks.test":
                self.webhooks.append(Webhook(dict(request.headers), request.content.decode("utf-8"), time.monotonic()))
                status = self.hook_statuses.pop(0) if self.hook_statuses else 200
                return httpx.Response(status)
        raise httpx.ConnectError("host unreachable", request=request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handler)

    def add_image(self, name: str, data: bytes) -> str:
        self.images[f"/{name}"] = data
        return f"{IMAGES}/{name}"

    def hooks_for(self, prediction_id: str) -> list[Webhook]:
        with self._lock:
            return [hook for hook in self.webhooks if hook.payload["id"] == prediction_id]


FAST = {
    "latency_seconds": 0.05,
    "public_url": "http://testserver",
    "webhook_retry_initial_seconds": 0.05,
    "webhook_retry_seconds": 2.0,
    "slow_seconds": 0.3,
}


@contextmanager
def standin(network: FakeNetwork, **overrides: Any) -> Iterator[tuple[TestClient, StandinStore]]:
    """A stand-in app behind starlette's TestClient, with fast timings unless overridden."""
    from starlette.testclient import TestClient  # here: importing it warns (httpx → httpx2)

    settings = StandinSettings(**{**FAST, **overrides})
    app = create_app(settings, transport=network.transport)
    with TestClient(app) as client:
        yield client, app.state.standin


def create(client: TestClient, prompt: str, images: list[str] | None = None, **body: Any) -> httpx.Response:
    payload: dict[str, Any] = {"input": {"prompt": prompt, "output_format": "png"}, **body}
    if images is not None:
        payload["input"]["image_input"] = images
    return client.post(MODEL_PATH, json=payload)
