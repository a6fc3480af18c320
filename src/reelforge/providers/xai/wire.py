"""xAI's REST wire vocabulary: job objects in our terms, and error answers as actionable errors.

A deferred video request reads `{"status": "pending"[, "progress": 0-100]}` while it runs, then
`{"status": "done", "video": {"url", "duration", "respect_moderation"}, "model", "usage":
{"cost_in_usd_ticks"}}`, or `{"status": "failed", "error": {"code", "message"}}`, or `expired`
(the proto's DeferredStatus: PENDING, DONE, EXPIRED, FAILED). Failed and moderated jobs are HTTP
200 answers; only the status word tells them apart. Error answers are `{"code", "error"}` (an
unknown key is a 400 "Incorrect API key provided", a missing one a 401).
"""

from __future__ import annotations

import re
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
from reelforge.providers.base import RemoteState, RemoteStatus
from reelforge.providers.http import error_for_status, parse_retry_after, response_message

TITLE = "xAI"
#: `usage.cost_in_usd_ticks`: 1 tick = 1e-10 USD (xai-sdk `cost.USD_PER_TICK`).
USD_PER_TICK = 1e-10
STATES = {
    "pending": RemoteState.RUNNING,
    "done": RemoteState.SUCCEEDED,
    "failed": RemoteState.FAILED,
    "expired": RemoteState.FAILED,
}
#: xAI's body field -> the tool parameter a calling model knows.
PARAM_NAMES = {
    "prompt": "prompt", "duration": "duration_s", "aspect_ratio": "aspect_ratio", "resolution": "resolution",
    "image": "image", "last_frame": "last_image", "reference_images": "options.reference_images",
    "video": "source", "model": "model", "generate_audio": "audio",
}  # fmt: skip
KEY_HINT = "Check XAI_API_KEY (create one at console.x.ai)."


def job_status(job: dict[str, Any], state: RemoteState) -> RemoteStatus:
    """A deferred video answer (of a known status) in our vocabulary."""
    video = job.get("video") if isinstance(job.get("video"), dict) else {}
    cost = _cost(job)
    if state is RemoteState.SUCCEEDED:
        url = video.get("url")
        if not isinstance(url, str) or not url:
            # `respect_moderation: false` comes without a URL: the output was withheld (xAI may still bill it).
            refused = video.get("respect_moderation") is False
            error: ReelforgeError = ContentRejected(
                "xAI's moderation withheld the generated video (respect_moderation=false); xAI may bill it.",
                hint="Rephrase the prompt or use different images.") if refused else ProviderFailure(
                "xAI reported the video done but returned no video URL.")
            return RemoteStatus(RemoteState.FAILED, error=error, cost_usd=cost, raw_status="done")
        return RemoteStatus(state, progress=1.0, output_urls=[url], cost_usd=cost)
    if state is RemoteState.FAILED:
        return RemoteStatus(state, error=job_failure(job), cost_usd=cost)
    progress = job.get("progress")
    fraction = float(progress) / 100 if isinstance(progress, (int, float)) and 0 <= progress <= 100 else None
    return RemoteStatus(state, progress=fraction)


def job_failure(job: dict[str, Any]) -> ReelforgeError:
    if job.get("status") == "expired":
        return ProviderFailure("xAI let the video request expire before it finished; nothing to download. "
                               "Trying again may work.")
    error = job.get("error") if isinstance(job.get("error"), dict) else {}
    code = str(error.get("code") or "")
    message = str(error.get("message") or "no reason given")[:300]
    lowered = f"{code} {message}".lower()
    if any(word in lowered for word in ("moderation", "content_policy", "safety", "policy")):
        return ContentRejected(f"xAI's moderation refused the video ({code or 'no code'}): {message}",
                               hint="Rephrase the prompt or use different images.")
    if "invalid" in lowered:
        return InvalidRequest(f"xAI could not use the request ({code}): {message}")
    return ProviderFailure(f"xAI's video generation failed ({code or 'no code'}): {message}. Trying again may work.")


def xai_error(response: httpx.Response) -> ReelforgeError:
    """xAI's `{"code", "error"}` answers, refined from the shared status classification."""
    message = response_message(response)
    status = response.status_code
    lowered = message.lower()
    if status == 401 or (status == 400 and "api key" in lowered):
        # Not the body: xAI echoes a masked slice of the key it was given.
        return AuthFailed(f"xAI refused the API key (HTTP {status}).", hint=KEY_HINT)
    if status in (402, 403) and any(w in lowered for w in ("credit", "spending limit", "balance")):
        return InsufficientCredits(f"xAI says the team has no credits or hit its spending limit: {message}",
                                   hint="Add credits or raise the limit at console.x.ai.")
    if status == 403:
        return AuthFailed(f"xAI refused this action for the key's team (HTTP 403): {message}", hint=KEY_HINT)
    if status == 429:
        return RateLimited(f"xAI is rate limiting this team (HTTP 429): {message}",
                           retry_after=parse_retry_after(response.headers))
    if status == 404 and "model" in lowered:
        return InvalidRequest(f"xAI does not serve this model to the team: {message}", param="model")
    return error_for_status(status, message, provider=TITLE, param=_param(message))


def _param(message: str) -> str | None:
    """Our parameter for the first quoted xAI field name in a message ("unknown field `durations`")."""
    for match in re.finditer(r"[`'\"]([a-z_]+)[`'\"]", message):
        if match.group(1) in PARAM_NAMES:
            return PARAM_NAMES[match.group(1)]
    return None


def _cost(job: dict[str, Any]) -> float | None:
    usage = job.get("usage") if isinstance(job.get("usage"), dict) else {}
    ticks = usage.get("cost_in_usd_ticks")
    return round(float(ticks) * USD_PER_TICK, 4) if isinstance(ticks, (int, float)) and ticks >= 0 else None
