"""Domain errors. Each handler maps them to HTTP in one place; nothing matches message text."""

from __future__ import annotations


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class ValidationFailed(DomainError):
    """Bad input (422): the field names what to fix."""

    code = "validation_failed"


class NotFound(DomainError):
    """No such thing for this user (404): another owner's batch looks missing too."""

    code = "not_found"


class Conflict(DomainError):
    """The request clashes with the current state (409), e.g. a reused Idempotency-Key."""

    code = "conflict"


class Unauthorized(DomainError):
    """No valid user, ticket or connection (401/403)."""

    code = "unauthorized"


class PayloadTooLarge(DomainError):
    """A body over our own cap (413), below API Gateway's."""

    code = "payload_too_large"


class PresetsUnavailable(DomainError):
    """The sheets cannot be read and no last good copy exists (503)."""

    code = "presets_unavailable"


class PresetsInvalid(DomainError):
    """A published sheet is malformed: names the sheet and, where known, the column."""

    code = "presets_invalid"

    def __init__(self, sheet: str, column: str | None, message: str) -> None:
        where = f"{sheet}.{column}" if column else sheet
        super().__init__(f"{where}: {message}", field=column)
        self.sheet = sheet
        self.column = column


class StateConflict(DomainError):
    """A conditional write lost: the item is already past the state we wanted to leave."""

    code = "state_conflict"


class ReplicateRateLimited(Exception):
    """Replicate answered 429: wait ``retry_after_seconds`` (its Retry-After) and try again. Never
    a cell's failure: RunPrediction turns it into a wait of the workflow."""

    def __init__(self, message: str, retry_after_seconds: float = 5.0) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ReplicateUnavailable(Exception):
    """Replicate answered 5xx or could not be reached. Retryable by the workflow."""


class ReplicateRejected(Exception):
    """Replicate refused the request (4xx other than 429): not retryable."""


class WebhookRejected(DomainError):
    """A delivery whose signature, timestamp or headers do not verify (401): nothing changes."""

    code = "invalid_signature"


class RetryLater(DomainError):
    """The delivery is fine but cannot be applied yet: a non-2xx makes Replicate retry it."""

    code = "retry_later"


class MalformedWebhook(DomainError):
    """A correctly signed delivery whose body is not a prediction (400)."""

    code = "invalid_prediction"
