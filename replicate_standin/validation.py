"""Request validation for ``POST /v1/models/{owner}/{name}/predictions``.

Errors are collected as Replicate's ``invalid_fields`` entries
(``{"type", "field", "description"}``); the route turns them into a 422 problem body.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WEBHOOK_EVENTS: tuple[str, ...] = ("start", "output", "logs", "completed")
OUTPUT_FORMATS: tuple[str, ...] = ("jpg", "png")
_URL_PREFIXES = ("http://", "https://", "data:")


@dataclass(frozen=True)
class CreateRequest:
    input: dict[str, Any]
    webhook: str | None
    webhook_events_filter: list[str] | None


class InvalidRequestError(Exception):
    def __init__(self, invalid_fields: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{f['field']}: {f['description']}" for f in invalid_fields))
        self.invalid_fields = invalid_fields


def _field(kind: str, field: str, description: str) -> dict[str, str]:
    return {"type": kind, "field": field, "description": description}


def validate_create(body: Any) -> CreateRequest:
    """Check a create-prediction body; raise ``InvalidRequestError`` listing every problem."""
    problems: list[dict[str, str]] = []
    if not isinstance(body, dict):
        raise InvalidRequestError([_field("invalid_type", "(root)", "Expected a JSON object")])

    model_input = body.get("input")
    if model_input is None:
        problems.append(_field("required", "(root)", "input is required"))
        model_input = {}
    elif not isinstance(model_input, dict):
        problems.append(_field("invalid_type", "input", "Invalid type. Expected: object"))
        model_input = {}

    if "input" in body and isinstance(body.get("input"), dict):
        prompt = model_input.get("prompt")
        if prompt is None:
            problems.append(_field("required", "input", "prompt is required"))
        elif not isinstance(prompt, str):
            problems.append(_field("invalid_type", "input.prompt", "Invalid type. Expected: string"))
        elif not prompt.strip():
            problems.append(_field("required", "input.prompt", "prompt must not be empty"))

        images = model_input.get("image_input")
        if images is not None:
            if not isinstance(images, list):
                problems.append(_field("invalid_type", "input.image_input", "Invalid type. Expected: array"))
            else:
                for index, url in enumerate(images):
                    if not isinstance(url, str):
                        problems.append(
                            _field(
                                "invalid_type",
                                f"input.image_input.{index}",
                                "Invalid type. Expected: string",
                            )
                        )
                    elif not url.startswith(_URL_PREFIXES):
                        problems.append(
                            _field(
                                "format",
                                f"input.image_input.{index}",
                                "Does not match format 'uri'",
                            )
                        )

        output_format = model_input.get("output_format")
        if output_format is not None and output_format not in OUTPUT_FORMATS:
            problems.append(
                _field(
                    "enum",
                    "input.output_format",
                    'output_format must be one of the following: "jpg", "png"',
                )
            )

    webhook = body.get("webhook")
    legacy = body.get("webhook_completed")
    events = body.get("webhook_events_filter")
    if webhook is None and legacy is not None:
        # The legacy field means "only the completed event".
        webhook = legacy
        if events is None:
            events = ["completed"]
    if webhook is not None and (not isinstance(webhook, str) or not webhook.startswith(("http://", "https://"))):
        problems.append(_field("format", "webhook", "Does not match format 'uri'"))
    if events is not None:
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            problems.append(_field("invalid_type", "webhook_events_filter", "Invalid type. Expected: array"))
        else:
            for index, event in enumerate(events):
                if event not in WEBHOOK_EVENTS:
                    problems.append(
                        _field(
                            "enum",
                            f"webhook_events_filter.{index}",
                            f'webhook_events_filter.{index} must be one of the following: "start", "output", "logs", "completed"',
                        )
                    )

    if problems:
        raise InvalidRequestError(problems)
    return CreateRequest(
        input=model_input,
        webhook=webhook,
        webhook_events_filter=list(dict.fromkeys(events)) if events is not None else None,
    )
