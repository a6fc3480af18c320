"""Kling's wire vocabulary: the `{code, message, request_id, data}` envelope, its error codes,
task objects, camera moves, and the job ids we store.

Every Kling answer carries `code` (0 = success) beside an HTTP status (401 for 1000-1004, 429 for
balance and rate codes, 400 for parameters and moderation, 5xx for 5000-5002). The code is the
more precise of the two, so it decides the error class; the HTTP status only decides, in the
shared layer, whether a read is retried and whether a create's outcome is unknown.

A task is read at `GET /v1/videos/{endpoint}/{task_id}`, so the endpoint is part of what we must
remember: the stored id is `<endpoint>:<task_id>` (e.g. `image2video:8661...`); a bare id reads
as text2video.
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

PROVIDER = "Kling"
ENDPOINTS = ("text2video", "image2video", "video-extend")

STATES = {
    "submitted": RemoteState.QUEUED,
    "processing": RemoteState.RUNNING,
    "succeed": RemoteState.SUCCEEDED,
    "failed": RemoteState.FAILED,
}

_KEY_HINT = "Check KLING_ACCESS_KEY and KLING_SECRET_KEY (a pair from the same key in the Kling developer console)."
_CLOCK_HINT = "The token is signed with this machine's clock: check that it is set correctly (NTP)."
#: Kling names no wait on its rate and concurrency codes; suggest one so the caller knows when to come back.
RATE_LIMIT_WAIT_S = 10.0
#: Kling's wire field -> the tool parameter a calling model knows.
PARAM_NAMES = {
    "prompt": "prompt", "negative_prompt": "negative_prompt", "duration": "duration_s", "aspect_ratio": "aspect_ratio",
    "mode": "resolution", "image": "image", "image_tail": "last_image", "camera_control": "camera_move",
    "sound": "audio", "model_name": "model", "video_id": "source",
}  # fmt: skip
#: Words in a failed task's message that mean moderation refused it (Kling fails flagged outputs this way).
MODERATION_WORDS = ("risk", "security", "sensitive", "policy", "moderat", "inappropriate")

#: Our camera moves -> Kling's `camera_control`. Kling's own axis names are not the film ones: its
#: `pan` turns about the x axis (a film tilt) and its `tilt` about the y axis (a film pan). The signs
#: follow Kling's field descriptions (negative = left / down / narrower view); not yet seen live.
CAMERA = {
    "truck_left": ("horizontal", -5), "truck_right": ("horizontal", 5),
    "pedestal_down": ("vertical", -5), "pedestal_up": ("vertical", 5),
    "tilt_down": ("pan", -5), "tilt_up": ("pan", 5),
    "pan_left": ("tilt", -5), "pan_right": ("tilt", 5),
    "roll_left": ("roll", -5), "roll_right": ("roll", 5),
    "zoom_in": ("zoom", -5), "zoom_out": ("zoom", 5),
}  # fmt: skip
#: Kling's named camera presets, offered under their own names.
CAMERA_PRESETS = ("down_back", "forward_up", "right_turn_forward", "left_turn_forward")


def camera_control(move: str) -> dict[str, Any]:
    """The `camera_control` object for one of our camera moves."""
    if move in CAMERA_PRESETS:
        return {"type": move}
    axis, amount = CAMERA[move]
    config = dict.fromkeys(("horizontal", "vertical", "pan", "tilt", "roll", "zoom"), 0)
    config[axis] = amount
    return {"type": "simple", "config": config}


# --- job ids ----------------------------------------------------------------------------------------


def job_id(endpoint: str, task_id: str) -> str:
    return f"{endpoint}:{task_id}"


def split_job_id(remote_id: str) -> tuple[str, str]:
    """(endpoint, task id) of a stored id."""
    endpoint, sep, task_id = remote_id.partition(":")
    if sep and endpoint in ENDPOINTS and task_id:
        return endpoint, task_id
    return "text2video", remote_id


# --- the envelope and its codes ----------------------------------------------------------------------


def envelope_code(body: Any) -> tuple[int, str]:
    """(`code`, `message`) of a Kling answer; a body without a readable code counts as 0."""
    if not isinstance(body, dict):
        return 0, ""
    try:
        code = int(body.get("code") or 0)
    except (TypeError, ValueError):
        code = -1
    return code, str(body.get("message") or "")[:300]


def code_error(code: int, message: str, *, status: int | None = None,
               retry_after: float | None = None) -> ReelforgeError:
    """The `reelforge.errors` instance for a non-zero Kling `code`."""
    said = f"Kling error {code}: {message}" if message else f"Kling error {code}"
    if 1000 <= code <= 1004:
        hint = _CLOCK_HINT if code in (1003, 1004) else _KEY_HINT
        return AuthFailed(f"Kling refused the credentials ({said}).", hint=hint)
    if code in (1101, 1102):
        return InsufficientCredits(f"The Kling account has no balance or resource pack left for this ({said}).",
                                   hint="Top up or buy a video resource pack in the Kling developer console.")
    if code in (1100, 1103, 1304):
        return AuthFailed(f"Kling refused this account or model ({said}).",
                          hint="Check the account's status, its access to this model and any IP allow-list.")
    if code in (1300, 1301):
        return ContentRejected(f"Kling's content policy refused the request ({said}).",
                               hint="Rephrase the prompt or use a different image.")
    if code in (1302, 1303):
        return RateLimited(f"Kling is limiting this account ({said}).", retry_after=retry_after or RATE_LIMIT_WAIT_S)
    if 1200 <= code <= 1299:
        return InvalidRequest(f"Kling rejected the request ({said}).", param=_param_in(message))
    if code >= 5000:
        return ProviderFailure(f"Kling had a server error ({said}). Try again in a minute.")
    return error_for_status(status or 400, said, provider=PROVIDER)


def kling_error(response: httpx.Response) -> ReelforgeError:
    """Map a non-2xx answer: the envelope's code first, else the shared status table."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code, message = envelope_code(body)
    retry_after = parse_retry_after(response.headers)
    if code > 0:
        return code_error(code, response_message(response) or message, status=response.status_code,
                          retry_after=retry_after)
    if response.status_code == 401:
        return AuthFailed("Kling refused the credentials (HTTP 401).", hint=_KEY_HINT)
    return error_for_status(response.status_code, response_message(response), provider=PROVIDER,
                            retry_after=retry_after)


def _param_in(message: str) -> str | None:
    for wire in sorted(PARAM_NAMES, key=len, reverse=True):  # image_tail before image
        if re.search(rf"\b{re.escape(wire)}\b", message):
            return PARAM_NAMES[wire]
    return None


# --- task objects --------------------------------------------------------------------------------------


def task_status(task: dict[str, Any], state: RemoteState) -> RemoteStatus:
    """A Kling task (of a known status) in our vocabulary; Kling reports no progress figure."""
    if state is RemoteState.FAILED:
        return RemoteStatus(state, error=task_failure(task))
    urls = [v["url"] for v in videos(task) if isinstance(v.get("url"), str)] if state is RemoteState.SUCCEEDED else []
    if state is RemoteState.SUCCEEDED and not urls:
        return RemoteStatus(RemoteState.FAILED,
                            error=ProviderFailure("Kling reported the task as succeeded but returned no video."))
    return RemoteStatus(state, output_urls=urls)


def videos(task: dict[str, Any]) -> list[dict[str, Any]]:
    result = task.get("task_result") if isinstance(task.get("task_result"), dict) else {}
    return [v for v in result.get("videos") or [] if isinstance(v, dict)]


def task_failure(task: dict[str, Any]) -> ReelforgeError:
    """A failed task's `task_status_msg` as an actionable error."""
    reason = str(task.get("task_status_msg") or "no reason given")[:300]
    if any(word in reason.lower() for word in MODERATION_WORDS):
        return ContentRejected(f"Kling's moderation refused the generation: {reason}.",
                               hint="Rephrase the prompt or use a different image. Failed tasks are not billed.")
    return ProviderFailure(f"Kling's task failed: {reason}. Trying again may work; failed tasks are not billed.")
