"""AWS's payload and time limits that the local stack enforces, in one place.

Each number is AWS's; the comment says where it comes from. The comparisons live here too,
because AWS is not uniform about whether the limit itself is still allowed.
"""

from __future__ import annotations

# -- API Gateway HTTP API ----------------------------------------------------------------------

# "Payload size: 10 MB" (HTTP API quotas); API Gateway's own 413 names the byte count:
# "HTTP content length exceeded 10485760 bytes."
HTTP_API_PAYLOAD_MAX_BYTES = 10 * 1024 * 1024
# "Maximum integration timeout: 30 seconds", not raisable (HTTP API quotas; REST APIs have 29 s).
HTTP_API_INTEGRATION_TIMEOUT_SECONDS = 30.0

# -- API Gateway WebSocket API -----------------------------------------------------------------

# "Message payload size: 128 KB" (WebSocket quotas); PostToConnection's `Data` is modelled with
# max 131072 in botocore's apigatewaymanagementapi service model.
WEBSOCKET_MESSAGE_MAX_BYTES = 128 * 1024
# "Integration timeout: 50 milliseconds - 29 seconds" (WebSocket quotas).
WEBSOCKET_INTEGRATION_TIMEOUT_SECONDS = 29.0

# -- Lambda synchronous Invoke -----------------------------------------------------------------

# "6 MB each for request and response (synchronous)" (Lambda quotas). The request limit is
# exclusive: Invoke answers 413 RequestEntityTooLargeException "Request must be smaller than
# 6291456 bytes for the InvokeFunction operation".
LAMBDA_SYNC_REQUEST_LIMIT_BYTES = 6 * 1024 * 1024
# The response may be 100 bytes larger: "Response payload size exceeded maximum allowed payload
# size (6291556 bytes)." (errorType Function.ResponseSizeTooLarge).
LAMBDA_SYNC_RESPONSE_MAX_BYTES = 6 * 1024 * 1024 + 100

# -- Step Functions ----------------------------------------------------------------------------

# "Maximum input or output size for a task, state, or execution: 256 KiB of data as a UTF-8
# encoded string" (Step Functions quotas); the API models `input`/`output` as max 262144,
# "expressed as bytes in UTF-8 encoding".
STEP_FUNCTIONS_PAYLOAD_MAX_BYTES = 256 * 1024
# "Maximum request size: 1 MB per request" (hard quota); Step Functions answers 413 with the
# text "HTTP content length exceeded 1049600 bytes." (1 MiB plus 1 KiB of headroom).
STEP_FUNCTIONS_REQUEST_MAX_BYTES = 1024 * 1024 + 1024


def http_api_payload_too_large(size: int) -> bool:
    return size > HTTP_API_PAYLOAD_MAX_BYTES


def websocket_message_too_large(size: int) -> bool:
    return size > WEBSOCKET_MESSAGE_MAX_BYTES


def lambda_request_too_large(size: int) -> bool:
    return size >= LAMBDA_SYNC_REQUEST_LIMIT_BYTES


def lambda_response_too_large(size: int) -> bool:
    return size > LAMBDA_SYNC_RESPONSE_MAX_BYTES


def step_functions_payload_too_large(size: int) -> bool:
    return size > STEP_FUNCTIONS_PAYLOAD_MAX_BYTES


def step_functions_request_too_large(size: int) -> bool:
    return size > STEP_FUNCTIONS_REQUEST_MAX_BYTES
