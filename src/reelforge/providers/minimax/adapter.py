"""MiniMax (Hailuo) adapter: create, query, file retrieve, with errors inside HTTP 200.

MiniMax answers almost everything with HTTP 200 and puts the outcome in `base_resp.status_code`
(0 = success). So this module reads that envelope on every call and maps its codes onto
`reelforge.errors` in one table (`_CODE_ERRORS`). HTTP-level failures (gateways, network) go
through the shared layer in `providers/http.py` like every other provider.

Flow: `POST /v1/video_generation` → `task_id`; `GET /v1/query/video_generation?task_id=` until
`Success` (then `file_id`) or `Fail`; `GET /v1/files/retrieve?file_id=` → a fresh
`file.download_url` on every read (so an expired link is cured by polling again).
MiniMax has no cancel endpoint and reports no progress figure: `cancel` is a logged no-op and
progress is left unknown rather than invented.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

import anyio
import httpx

from reelforge.errors import (
    AuthFailed,
    ContentRejected,
    InsufficientCredits,
    InvalidRequest,
    OutcomeUnknown,
    ProviderFailure,
    ProviderTimeout,
    RateLimited,
    ReelforgeError,
    UnsupportedParameter,
)
from reelforge.providers.base import RemoteProvider, RemoteState, RemoteStatus
from reelforge.providers.declaration import facts_of
from reelforge.providers.http import ErrorMap, error_for_status, parse_retry_after, send
from reelforge.providers.minimax import DECLARATION
from reelforge.providers.minimax.facts import MiniMaxFacts

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.generation_spec import GenerationSpec, MediaRef

log = logging.getLogger(__name__)

PROVIDER = "MiniMax"

#: Our camera move names → MiniMax's bracketed prompt commands (Director, Hailuo-02 and 2.3).
CAMERA_TAGS = {
    "truck_left": "Truck left", "truck_right": "Truck right", "pan_left": "Pan left", "pan_right": "Pan right",
    "push_in": "Push in", "pull_out": "Pull out", "pedestal_up": "Pedestal up", "pedestal_down": "Pedestal down",
    "tilt_up": "Tilt up", "tilt_down": "Tilt down", "zoom_in": "Zoom in", "zoom_out": "Zoom out",
    "shake": "Shake", "tracking_shot": "Tracking shot", "static_shot": "Static shot",
}  # fmt: skip

#: Poll spellings (TitleCase, case-sensitive) → our states.
STATES = {
    "Preparing": RemoteState.QUEUED,
    "Queueing": RemoteState.QUEUED,
    "Processing": RemoteState.RUNNING,
    "Success": RemoteState.SUCCEEDED,
    "Fail": RemoteState.FAILED,
}

#: First/last frame images: JPG/PNG/WebP under 20 MB (MiniMax's documented limit).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
IMAGE_MIMES = ("image/jpeg", "image/png", "image/webp")
MAX_PROMPT_CHARS = 2000
#: Knobs MiniMax accepts beyond the normalised spec (passed through `options`).
EXTRA_FLAGS = ("prompt_optimizer", "fast_pretreatment")

#: base_resp codes worth another read: unknown error, timeout, rate limit.
_TRANSIENT_CODES = frozenset({1000, 1001, 1002})
#: When MiniMax rate limits (default 5 requests a minute for video) it names no wait; suggest one.
_RATE_LIMIT_WAIT_S = 20.0


_KEY_HINT = (
    "Check MINIMAX_API_KEY. Keys from the mainland-China platform (minimaxi.com) only work with "
    "MINIMAX_API_HOST=https://api.minimaxi.com; global keys with https://api.minimax.io."
)
#: base_resp.status_code → (error class, what happened, what to do). Codes not listed: ProviderFailure.
_CODE_ERRORS: dict[int, tuple[type[ReelforgeError], str, str | None]] = {
    1001: (ProviderTimeout, "MiniMax timed out", "Try again later."),
    1004: (AuthFailed, "MiniMax refused the API key", _KEY_HINT),
    2049: (AuthFailed, "MiniMax refused the API key", _KEY_HINT),
    2038: (AuthFailed, "MiniMax requires real-name verification for this account",
           "Complete verification in the MiniMax console, then try again."),
    1008: (InsufficientCredits, "The MiniMax account balance is too low",
           "Top up at the MiniMax console, or choose another provider."),
    2056: (RateLimited, "The MiniMax plan's usage limit is reached",
           "Wait for the limit to reset or upgrade the plan; retrying now will fail."),
    1026: (ContentRejected, "MiniMax flagged the prompt or input image as sensitive",
           "Rephrase the prompt or use another image."),
    1027: (ContentRejected, "MiniMax flagged the generated video as sensitive",
           "Rephrase the prompt; this attempt produced no usable video."),
    2013: (InvalidRequest, "MiniMax rejected the parameters", None),
}


def _code_error(code: int, msg: str) -> ReelforgeError:
    """The `reelforge.errors` instance for a non-zero `base_resp.status_code`."""
    said = f"MiniMax error {code}: {msg}" if msg else f"MiniMax error {code}"
    if code == 1002:  # MiniMax names no wait; suggest one so the caller knows when to come back
        return RateLimited(f"MiniMax is rate limiting this account ({said}).", retry_after=_RATE_LIMIT_WAIT_S)
    error_class, what, hint = _CODE_ERRORS.get(code, (ProviderFailure, "MiniMax failed", None))
    return error_class(f"{what} ({said}).", hint=hint)


def _base_resp(data: dict[str, Any]) -> tuple[int, str]:
    resp = data.get("base_resp") or {}
    try:
        code = int(resp.get("status_code", 0))
    except (TypeError, ValueError):
        code = 1000
    return code, str(resp.get("status_msg") or "")


def _http_error(response: httpx.Response) -> ReelforgeError:
    """Map a non-2xx answer: a known MiniMax code in its envelope first, else the shared status table."""
    try:
        data = response.json()
    except ValueError:
        data = None
    code, msg = _base_resp(data) if isinstance(data, dict) else (0, "")
    if code in _CODE_ERRORS:
        return _code_error(code, msg)
    return error_for_status(response.status_code, msg, provider=PROVIDER, retry_after=parse_retry_after(response.headers))


class MiniMaxProvider(RemoteProvider):
    """MiniMax's Hailuo models through MiniMax's own API (host from MINIMAX_API_HOST)."""

    declaration = DECLARATION
    title: ClassVar[str] = PROVIDER
    states = STATES

    # --- rules -----------------------------------------------------------------------------------

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        """Refuse what MiniMax would refuse, before any ledger row or request exists."""
        rules = facts_of(model, MiniMaxFacts)
        res = spec.resolution.lower()
        if rules.requires_first_frame and spec.first_frame is None:
            raise UnsupportedParameter(
                f"{model.key} accepts only image-to-video requests: give image (the first frame).", param="image",
                hint="Or use minimax/hailuo-2.3 for text-to-video.",
            )
        max_by_res = rules.max_duration_by_resolution
        if res in max_by_res and spec.duration_s > max_by_res[res]:
            raise UnsupportedParameter(
                f"{model.key} makes {spec.duration_s:g} s videos only below {res}; at {res} it accepts "
                f"duration_s={max_by_res[res]:g}.", param="duration_s",
                hint="Use duration_s=6 at 1080p, or resolution=768p for 10 s.",
            )
        if res in rules.resolution_only_with_image and spec.first_frame is None:
            raise UnsupportedParameter(
                f"{model.key} offers {res} only for image-to-video; text-to-video accepts 768p or 1080p.",
                param="resolution",
            )
        if spec.last_frame is not None and res in rules.last_frame_excludes:
            raise UnsupportedParameter(
                f"{model.key} does not accept a last frame at {res}; use 768p or 1080p with last_image.",
                param="resolution",
            )
        self._check_camera(spec, model)
        if len(_prompt_for(spec)) > MAX_PROMPT_CHARS:
            raise InvalidRequest(
                f"The prompt with its camera command is {len(_prompt_for(spec))} characters; MiniMax takes at most "
                f"{MAX_PROMPT_CHARS}.", param="prompt",
            )
        unknown = sorted(k for k, v in spec.extra.items() if k not in EXTRA_FLAGS or not isinstance(v, bool))
        if unknown:
            raise UnsupportedParameter(
                f"MiniMax does not accept options {', '.join(unknown)} as given; it accepts "
                f"{', '.join(EXTRA_FLAGS)}, each true or false.",
                param="options",
            )
        notes = []
        if spec.camera_move:
            notes.append(f"camera_move {spec.camera_move} is sent as the prompt command [{CAMERA_TAGS[spec.camera_move]}].")
        return spec, notes

    @staticmethod
    def _check_camera(spec: GenerationSpec, model: ModelEntry) -> None:
        if spec.camera_move is None:
            return
        accepted = [m for m in model.capabilities.camera_moves if m in CAMERA_TAGS]
        if spec.camera_move not in accepted:
            raise UnsupportedParameter(
                f"{model.key} does not know camera_move={spec.camera_move}; it accepts "
                f"{', '.join(accepted) or 'no camera moves'}.", param="camera_move",
            )

    # --- wire ------------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.base_url("MINIMAX_API_HOST") + path

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential('MINIMAX_API_KEY')}"}

    async def _image(self, ref: MediaRef, param: str) -> str:
        """A first/last frame as MiniMax takes it: the public URL as is, a local file as a data URI."""
        if ref.kind == "url" and ref.url:
            return ref.url
        from reelforge.providers.input_files import check_kind, data_uri

        mime = check_kind(ref, expected="image", param=param)
        if mime not in IMAGE_MIMES:
            raise InvalidRequest(f"MiniMax takes JPG, PNG or WebP for '{param}'; got {mime}.", param=param)
        return await data_uri(ref, max_bytes=MAX_IMAGE_BYTES, param=param, provider=PROVIDER)

    async def create_body(self, spec: GenerationSpec, model: ModelEntry) -> dict[str, Any]:
        """The JSON body of the create request for `spec` (inputs read and encoded here)."""
        prompt = _prompt_for(spec)
        body: dict[str, Any] = {"model": model.remote_name}
        if prompt:
            body["prompt"] = prompt
        facts = facts_of(model, MiniMaxFacts)
        if facts.send_duration:
            body["duration"] = int(round(spec.duration_s))
        if facts.send_resolution:
            body["resolution"] = spec.resolution.upper()
        if spec.first_frame is not None:
            body["first_frame_image"] = await self._image(spec.first_frame, "image")
        if spec.last_frame is not None:
            body["last_frame_image"] = await self._image(spec.last_frame, "last_image")
        for flag in EXTRA_FLAGS:
            if flag in spec.extra:
                body[flag] = spec.extra[flag]
        return body

    async def _create_request(self, spec: GenerationSpec, model: ModelEntry) -> str:
        """Send the one create request; return MiniMax's `task_id`."""
        headers = self._headers()
        body = await self.create_body(spec, model)
        response = await send(
            self.client, "POST", self._url("/v1/video_generation"), headers=headers, json=body,
            retry_reads=False, error_map=_http_error, provider=PROVIDER, expect_json=True, policy=self.retry,
        )
        data = response.json()
        if not isinstance(data, dict):
            raise OutcomeUnknown("MiniMax answered the create request with JSON that is not an object, so the "
                                 "task id is unknown.", hint="Do not submit again: check the MiniMax console first.")
        code, msg = _base_resp(data)
        if code:
            raise _code_error(code, msg)  # MiniMax refused outright: no task exists
        task_id = str(data.get("task_id") or "")
        if not task_id:
            raise OutcomeUnknown(
                "MiniMax accepted the create request but returned no task_id.",
                hint="Do not submit again: check the MiniMax console's task list first.",
            )
        return task_id

    async def _read_job(self, remote_id: str, model: ModelEntry) -> dict[str, Any]:
        return await self._read("/v1/query/video_generation", {"task_id": remote_id}, job_level_fail=True)

    def _status_word(self, job: dict[str, Any]) -> str:
        return str(job.get("status") or "")

    async def _parse_status(self, data: dict[str, Any], state: RemoteState, remote_id: str,
                            model: ModelEntry) -> RemoteStatus:
        """On Success also reads the file record: a fresh download link on every read."""
        raw = str(data.get("status") or "")
        if state is RemoteState.FAILED:
            code, msg = _base_resp(data)
            # The official MiniMax-MCP client reads `Fail` only when base_resp is 0, so a reason is not
            # guaranteed; when a code comes along it is mapped like any other.
            error = _code_error(code, msg) if code else ProviderFailure(
                "MiniMax reported the task as failed (status Fail) without giving a reason.",
                hint="Try again; if it fails again, rephrase the prompt or use another image "
                "(MiniMax also fails flagged content this way).")
            return RemoteStatus(state, error=error, raw_status=raw)
        if state is RemoteState.SUCCEEDED:
            file_id = str(data.get("file_id") or "")
            if not file_id:
                return RemoteStatus(RemoteState.FAILED, raw_status=raw,
                                    error=ProviderFailure("MiniMax reported success but gave no file_id."))
            return RemoteStatus(state, output_urls=[await self._download_url(file_id)], raw_status=raw)
        return RemoteStatus(state, raw_status=raw)

    async def _download_url(self, file_id: str) -> str:
        data = await self._read("/v1/files/retrieve", {"file_id": file_id})
        url = (data.get("file") or {}).get("download_url")
        if not url:
            raise ProviderFailure(f"MiniMax's file record {file_id} has no download_url.")
        return str(url)

    def _error_map(self) -> ErrorMap:
        return _http_error

    async def _read(self, path: str, params: dict[str, str], *, job_level_fail: bool = False) -> dict[str, Any]:
        """A GET retried per the shared policy, including MiniMax's transient codes inside HTTP 200."""
        last: ReelforgeError = ProviderFailure("MiniMax did not answer.")
        for attempt in range(1, self.retry.max_attempts + 1):
            response = await send(
                self.client, "GET", self._url(path), headers=self._headers(), params=params,
                retry_reads=True, error_map=_http_error, provider=PROVIDER, policy=self.retry, expect_json=True,
            )
            data = response.json()
            if not isinstance(data, dict):
                last = ProviderFailure(f"MiniMax returned a malformed answer to {path}.")
            else:
                code, msg = _base_resp(data)
                if code == 0 or (job_level_fail and data.get("status") == "Fail"):
                    return data
                last = _code_error(code, msg)
                if code not in _TRANSIENT_CODES:
                    raise last
            if attempt < self.retry.max_attempts:
                await anyio.sleep(self.retry.backoff(attempt))
        raise last


def _prompt_for(spec: GenerationSpec) -> str:
    """The prompt as sent: the camera command, when one is asked for, leads as MiniMax's bracket tag."""
    if spec.camera_move:
        return f"[{CAMERA_TAGS[spec.camera_move]}] {spec.prompt}".strip()
    return spec.prompt
