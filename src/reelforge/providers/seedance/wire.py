"""Seedance's wire vocabulary: task statuses, task failures and HTTP error envelopes in our terms.

Ark answers errors as `{"error": {"code", "message", "param", "type"}}` (the official SDK reads
`body["error"]` for `code`/`param`); a failed task carries `error: {code, message}`. Moderation codes
end in `SensitiveContentDetected` (Input*/Output*); only successful tasks are billed.
"""

from __future__ import annotations

from typing import Any

import httpx

from reelforge.errors import (
    AuthFailed,
    ContentRejected,
    InsufficientCredits,
    InvalidRequest,
    ProviderFailure,
    RateLimited,
    ReelforgeError,
)
from reelforge.providers.base import RemoteState
from reelforge.providers.http import error_for_status, parse_retry_after, response_message

STATES = {
    "queued": RemoteState.QUEUED,
    "running": RemoteState.RUNNING,
    "succeeded": RemoteState.SUCCEEDED,
    "failed": RemoteState.FAILED,
    "cancelled": RemoteState.CANCELED,
    # A task not finished within its `execution_expires_after` ends `expired` (third-party docs).
    "expired": RemoteState.FAILED,
}
#: Ark's request field -> the tool parameter a calling model knows.
PARAM_NAMES = {
    "ratio": "aspect_ratio", "duration": "duration_s", "resolution": "resolution", "seed": "seed",
    "generate_audio": "audio", "model": "model", "content": "prompt", "text": "prompt", "image_url": "first_frame",
    "watermark": "options.watermark",
}  # fmt: skip
_KEY_HINT = "Check ARK_API_KEY, and that ARK_BASE_URL is the region the key belongs to (BytePlus or Volcengine)."


def error_body(response: httpx.Response) -> dict[str, Any]:
    """The `error` object of an Ark error answer ({} when the body has none)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def seedance_error(response: httpx.Response) -> ReelforgeError:
    """Ark's error answers, refined from the shared status classification (the status decides first)."""
    status = response.status_code
    error = error_body(response)
    code = str(error.get("code") or "")
    message = response_message(response)
    if status == 401:
        return AuthFailed(f"Seedance (Ark) refused the API key (HTTP 401, {code or 'no code'}).", hint=_KEY_HINT)
    if status == 429:
        return RateLimited(f"Seedance is rate limiting this account (HTTP 429, {code or 'no code'}): {message}",
                           retry_after=parse_retry_after(response.headers))
    if status == 403 and ("Overdue" in code or "overdue" in message.lower()):
        return InsufficientCredits(f"Ark says the account has an overdue balance ({code}): {message}",
                                   hint="Top up the BytePlus/Volcengine account, then try again.")
    if status in (400, 403) and "SensitiveContent" in code:
        return ContentRejected(f"Seedance's moderation refused the request ({code}): {message}",
                               hint="Rephrase the prompt or use a different image.")
    if status == 404 and ("ModelNotOpen" in code or "Endpoint" in code or "Model" in code):
        return InvalidRequest(f"Ark does not serve this model to the account ({code}): {message}", param="model",
                              hint="Activate the model in the ModelArk console, or check ARK_BASE_URL's region.")
    wire = str(error.get("param") or "").split(".")[0].split("[")[0]
    return error_for_status(status, f"{code}: {message}" if code else message, provider="Seedance",
                            param=PARAM_NAMES.get(wire))


def task_failure(task: dict[str, Any]) -> ReelforgeError:
    """A failed (or expired) task's `error` as an actionable error."""
    error = task.get("error") if isinstance(task.get("error"), dict) else {}
    code = str(error.get("code") or "")
    reason = str(error.get("message") or "no reason given")[:300]
    if task.get("status") == "expired":
        return ProviderFailure("Seedance let the task expire before it ran (its execution window passed); "
                               "nothing was billed. Trying again may work.")
    if "SensitiveContent" in code:
        side = "input" if code.startswith("Input") else "output"
        return ContentRejected(f"Seedance's moderation refused the {side} ({code}): {reason}. Failed tasks are not billed.",
                               hint="Rephrase the prompt or use a different image.")
    if code.startswith("InvalidParameter") or code.startswith("MissingParameter"):
        return InvalidRequest(f"Seedance could not use the request ({code}): {reason}.", param="first_frame")
    return ProviderFailure(f"Seedance's task failed ({code or 'no code'}): {reason}. Trying again may work.")
