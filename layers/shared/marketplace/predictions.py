"""Replicate predictions through the official ``replicate`` client.

``start_prediction`` creates a ``google/nano-banana`` prediction whose webhook fires on
``completed`` only (the cell is "processing" from the moment the prediction exists). Replicate's
answers become the workflow's error names: 429 → ``ReplicateRateLimited`` carrying Replicate's
``Retry-After`` (the caller waits that long: never a failure), 5xx or no answer →
``ReplicateUnavailable`` (retried by the state machine with backoff and jitter; the client never
retries a POST itself), any other 4xx → ``ReplicateRejected`` (the cell fails).

``upload_file`` hands bytes to Replicate's Files API (``client.files.create``) and answers the
file's URL, which Replicate accepts as an input: how a laptop's inputs reach Replicate
(``REPLICATE_INPUT_HANDOVER=files``, see ``handover``). ``list_predictions_page`` reads
Replicate's prediction list, newest first: the poll of many predictions in one request.

``get_prediction`` is the reconciler's poll. It returns Replicate's JSON as a plain dict: the
client's ``Prediction`` model rejects the status ``aborted``, and its transport would retry a 429
for up to a minute, which a scheduled sweep should not wait for.

``replicate`` and ``httpx`` are imported on first use: most handlers import this package and never
call Replicate, and a cold start pays for every module imported.

The API token never appears in a log line or an exception message.
"""

from __future__ import annotations

import io
import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from .config import get_settings
from .errors import ReplicateRateLimited, ReplicateRejected, ReplicateUnavailable
from .observability import logger
from .secrets import get_secret

if TYPE_CHECKING:
    import httpx
    import replicate

MODEL = "google/nano-banana"
OUTPUT_FORMAT = "png"
WEBHOOK_EVENTS = ["completed"]
DEFAULT_BASE_URL = "https://api.replicate.com"
# Without a usable Retry-After, a 429 waits this long (Replicate's limit refills every 0.1 s at
# 600 a minute; its documented body speaks of "~30s" at worst).
DEFAULT_RETRY_AFTER_SECONDS = 5.0
MAX_RETRY_AFTER_SECONDS = 300.0

_lock = threading.Lock()
_clients: dict[tuple[str, str], replicate.Client] = {}
_pollers: dict[tuple[str, str], httpx.Client] = {}


def _timeout() -> httpx.Timeout:
    import httpx

    # Creating a prediction answers in well under a second; a stuck connection must not eat the
    # Lambda's time (the workflow retries ReplicateUnavailable).
    return httpx.Timeout(10.0, connect=3.0, pool=3.0)


def retry_after_seconds(value: str | None, now: float | None = None) -> float:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), bounded; a default when absent
    or unreadable (never zero: a 429 always waits)."""
    text = (value or "").strip()
    seconds: float | None = None
    if text:
        try:
            seconds = float(text)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(text).timestamp() - (time.time() if now is None else now)
            except (TypeError, ValueError, IndexError, OverflowError):
                seconds = None
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        seconds = DEFAULT_RETRY_AFTER_SECONDS if seconds is None or not math.isfinite(seconds) else 1.0
    return min(seconds, MAX_RETRY_AFTER_SECONDS)


def _upload_timeout() -> httpx.Timeout:
    import httpx

    # A photo of up to 30 MB on a laptop's uplink; never unbounded.
    return httpx.Timeout(60.0, connect=3.0, pool=3.0)


def _bound_timeout(request: httpx.Request) -> None:
    """httpx request hook: the client asks for no timeout at all (``timeout=None``) on
    ``files.create`` and on ``predictions.create`` without ``wait``, overriding the client's own;
    a stuck request would hold RunPrediction until Lambda kills it. Uploads get a minute, the rest
    the client's timeout."""
    timeout = request.extensions.get("timeout") or {}
    if any(value is None for value in timeout.values()):
        bound = _upload_timeout() if request.url.path == "/v1/files" else _timeout()
        request.extensions["timeout"] = bound.as_dict()


def _raise_if_throttled(response: httpx.Response) -> None:
    """httpx response hook: a 429 becomes ReplicateRateLimited with its Retry-After (the client's
    own ReplicateError drops the headers)."""
    if response.status_code == 429:
        raise ReplicateRateLimited(
            "Replicate rate limit: create throttled",
            retry_after_seconds=retry_after_seconds(response.headers.get("retry-after")),
        )


def _token() -> str:
    return get_secret("REPLICATE_API_TOKEN", "REPLICATE_API_TOKEN_PARAM")


def _base_url() -> str:
    return get_settings().replicate_base_url or DEFAULT_BASE_URL


def get_client() -> replicate.Client:
    """One client per (token, base URL): a rotated token (SSM, 5 min cache) gets a new client."""
    import replicate

    key = (_token(), _base_url())
    with _lock:
        client = _clients.get(key)
        if client is None:
            _clients.clear()
            client = replicate.Client(api_token=key[0], base_url=key[1], timeout=_timeout(),
                                      event_hooks={"request": [_bound_timeout], "response": [_raise_if_throttled]})
            # The client builds its httpx client (an SSL context: ~10 ms of CPU) on first use,
            # unguarded: concurrent first creates each built one. Built here, under the lock, once.
            _ = client._client
            _clients[key] = client
        return client


def _poller() -> httpx.Client:
    import httpx

    key = (_token(), _base_url())
    with _lock:
        client = _pollers.get(key)
        if client is None:
            for old in _pollers.values():
                old.close()
            _pollers.clear()
            client = httpx.Client(
                base_url=key[1],
                headers={"Authorization": f"Bearer {key[0]}", "User-Agent": "car-marketplace/1"},
                timeout=_timeout(),
            )
            _pollers[key] = client
        return client


def reset_clients() -> None:
    """Tests: forget cached clients (and the token they carry)."""
    with _lock:
        _clients.clear()
        for client in _pollers.values():
            client.close()
        _pollers.clear()


def _map_status(status: int | None, detail: str, what: str = "the prediction") -> Exception:
    if status == 429:
        return ReplicateRateLimited(f"Replicate rate limit: {detail}")
    if status is None or status >= 500:
        return ReplicateUnavailable(f"Replicate unavailable ({status}): {detail}")
    return ReplicateRejected(f"Replicate rejected {what} ({status}): {detail}")


@contextmanager
def _client_errors(what: str) -> Iterator[None]:
    """The official client's failures as the workflow's error classes (never the token)."""
    import httpx
    from pydantic import ValidationError
    from replicate.exceptions import ReplicateError

    try:
        yield
    except ReplicateError as error:
        detail = error.detail or error.title or "no detail"
        raise _map_status(error.status, detail, what) from None
    except httpx.TimeoutException as error:
        raise ReplicateUnavailable(f"Replicate timed out: {type(error).__name__}") from None
    except httpx.TransportError as error:
        raise ReplicateUnavailable(f"Replicate unreachable: {type(error).__name__}") from None
    except (ValidationError, ValueError, KeyError, TypeError) as error:
        # A 2xx whose body is not what was asked for: treat as a transient upstream fault.
        raise ReplicateUnavailable(f"Replicate answered an unexpected body: {type(error).__name__}") from None


def start_prediction(prompt: str, image_input: list[str], webhook_url: str | None) -> str:
    """Creates the prediction and returns its id; without ``webhook_url`` none is asked for
    (completion is polled). Raises the workflow's error classes."""
    client = get_client()
    hook: dict[str, Any] = {"webhook": webhook_url, "webhook_events_filter": WEBHOOK_EVENTS} if webhook_url else {}
    with _client_errors("the prediction"):
        prediction = client.predictions.create(
            model=MODEL,
            input={"prompt": prompt, "image_input": list(image_input), "output_format": OUTPUT_FORMAT},
            **hook,
        )
    prediction_id = str(prediction.id)
    logger.debug("prediction created", extra={"prediction_id": prediction_id, "status": prediction.status})
    return prediction_id


@dataclass(frozen=True)
class UploadedFile:
    url: str  # the file's `urls.get`: what a prediction's input names
    expires_at: float | None  # epoch seconds (Replicate keeps files 24 h)


def upload_file(data: bytes, filename: str, content_type: str) -> UploadedFile:
    """``POST /v1/files`` through the official client. Raises the workflow's error classes."""
    client = get_client()
    with _client_errors("the file"):
        made = client.files.create(io.BytesIO(data), filename=filename, content_type=content_type)
        url = str(made.urls["get"])
    expires: float | None = None
    if made.expires_at:
        try:
            expires = datetime.fromisoformat(str(made.expires_at).replace("Z", "+00:00")).timestamp()
        except ValueError:
            expires = None
    logger.debug("input handed over through the Files API", extra={"file_id": made.id, "bytes": len(data)})
    return UploadedFile(url, expires)


def _poll(method: str, path: str) -> httpx.Response:
    """One request of the poller's client; no answer at all is ReplicateUnavailable."""
    import httpx

    try:
        return _poller().request(method, path)
    except httpx.TimeoutException as error:
        raise ReplicateUnavailable(f"Replicate timed out: {type(error).__name__}") from None
    except httpx.TransportError as error:
        raise ReplicateUnavailable(f"Replicate unreachable: {type(error).__name__}") from None


def list_predictions_page(page_url: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``GET /v1/predictions`` (newest first) and the next page's URL. A next URL
    that is not on Replicate's own origin is not followed (the token goes nowhere else)."""
    data = _json_or_raise(_poll("GET", page_url or "/v1/predictions"))
    results = data.get("results")
    if not isinstance(results, list):
        raise ReplicateUnavailable("Replicate answered a body that is not a prediction list")
    next_url = data.get("next")
    base = urlsplit(_base_url())
    if not isinstance(next_url, str) or urlsplit(next_url)[:2] != base[:2]:
        next_url = None
    return [item for item in results if isinstance(item, dict) and item.get("id")], next_url


def _json_or_raise(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 400:
        try:
            body = response.json()
            detail = str(body.get("detail") or body.get("title") or "no detail")
        except (ValueError, AttributeError):
            detail = "no detail"
        raise _map_status(response.status_code, detail)
    try:
        data = response.json()
    except ValueError:
        raise ReplicateUnavailable("Replicate answered a body that is not JSON") from None
    if not isinstance(data, dict):
        raise ReplicateUnavailable("Replicate answered a body that is not an object")
    return data


def get_prediction(prediction_id: str) -> dict[str, Any]:
    """``GET /v1/predictions/{id}`` as a plain dict (any status, including ``aborted``)."""
    data = _json_or_raise(_poll("GET", f"/v1/predictions/{quote(prediction_id, safe='')}"))
    if "status" not in data:
        raise ReplicateUnavailable("Replicate answered a body that is not a prediction")
    return data


def cancel_prediction(prediction_id: str) -> bool:
    """``POST /v1/predictions/{id}/cancel``: True when Replicate took it (a finished prediction
    answers 200 too and stays finished). Raises the workflow's error classes."""
    response = _poll("POST", f"/v1/predictions/{quote(prediction_id, safe='')}/cancel")
    if response.status_code == 404:
        return False
    if response.status_code >= 400:
        raise _map_status(response.status_code, "cancel refused")
    return True
