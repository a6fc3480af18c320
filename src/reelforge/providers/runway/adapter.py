"""Runway Developer API adapter: text/image/video-to-video tasks, polled at `/v1/tasks/{id}`.

Wire facts (runwayml SDK 5.24, `providers.md` §1): bearer key plus `X-Runway-Version: 2024-11-06`
on every call; camelCase bodies; `ratio` is a pixel size ("1280:720"), chosen here from the
catalog's per-model table; `promptImage` is a URI or a list of `{uri, position}` (first/last);
tasks go PENDING/THROTTLED -> RUNNING (with `progress`) -> SUCCEEDED/FAILED/CANCELLED. Inputs up
to 5 MB go inline as data URIs; larger ones through the ephemeral upload (`POST /v1/uploads`, then
a presigned form POST), which yields a `runway://` URI.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import httpx

from reelforge.errors import (
    AuthFailed,
    ContentRejected,
    InsufficientCredits,
    InvalidRequest,
    ProviderFailure,
    RateLimited,
    ReelforgeError,
    UnsupportedParameter,
)
from reelforge.providers.base import RemoteProvider, RemoteState, RemoteStatus
from reelforge.providers.declaration import facts_of
from reelforge.providers.http import ErrorMap, error_for_status, parse_retry_after, response_message
from reelforge.providers.input_files import check_kind, data_uri, input_size, upload_form
from reelforge.providers.runway import DECLARATION
from reelforge.providers.runway.facts import RunwayFacts

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.generation_spec import GenerationSpec, MediaRef


API_VERSION = "2024-11-06"
#: Inline data URI ceiling the SDK documents for images and videos; above it we upload.
DATA_URI_MAX_BYTES = 5 * 1024 * 1024
#: Ephemeral upload ceiling (first-party reference).
UPLOAD_MAX_BYTES = 200 * 1024 * 1024
CREDIT_USD = 0.01

_STATES = {
    "PENDING": RemoteState.QUEUED,
    "THROTTLED": RemoteState.QUEUED,
    "RUNNING": RemoteState.RUNNING,
    "SUCCEEDED": RemoteState.SUCCEEDED,
    "FAILED": RemoteState.FAILED,
    "CANCELLED": RemoteState.CANCELED,
}
#: Runway's wire field -> the tool parameter a calling model knows.
_PARAM_NAMES = {
    "promptText": "prompt", "promptImage": "first_frame", "ratio": "aspect_ratio", "duration": "duration_s",
    "videoUri": "video", "seed": "seed", "negativePrompt": "negative_prompt", "audio": "audio", "model": "model",
}  # fmt: skip


class RunwayProvider(RemoteProvider):
    declaration = DECLARATION
    states = _STATES

    # --- request shaping ----------------------------------------------------------------------

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        """Refuse what the catalog's generic checks cannot see: endpoint, ratio table, keyframe positions."""
        facts = facts_of(model, RunwayFacts)
        endpoint = _endpoint(spec, model)
        if endpoint == "text_to_video":
            allowed = facts.text_aspect_ratios or list(facts.ratios.get(spec.resolution, {}))
            if spec.aspect_ratio not in allowed:
                raise UnsupportedParameter(
                    f"{model.key} text-to-video accepts aspect_ratio {', '.join(allowed)}; other ratios need a first_frame.",
                    param="aspect_ratio",
                )
        _pixel_ratio(spec, model)
        if spec.last_frame is not None and "last" not in facts.image_positions:
            raise UnsupportedParameter(f"{model.key} does not accept a last_frame; use veo3.1.", param="last_frame")
        if spec.last_frame is not None and spec.first_frame is None:
            raise UnsupportedParameter(f"{model.key} needs a first_frame when a last_frame is given.", param="first_frame")
        if spec.continue_remote_id:
            raise UnsupportedParameter("Runway has no native extend; extend uses the last frame.", param="continue_remote_id")
        for param, ref in (("first_frame", spec.first_frame), ("last_frame", spec.last_frame), ("video", spec.video)):
            if ref is not None and ref.kind == "url" and not (ref.url or "").startswith("https://"):
                raise UnsupportedParameter(
                    f"Runway fetches '{param}' only from https:// URLs; give an HTTPS URL or a local file.", param=param
                )
        if facts.always_audio and spec.audio is False:
            raise UnsupportedParameter(f"{model.key} always generates audio; use veo3.1 for silent clips.", param="audio")
        if endpoint == "video_to_video":
            return spec, [f"{model.key} restyles the whole input video: the result has the input's length, billed per input second."]
        return spec, []

    async def _body(self, spec: GenerationSpec, model: ModelEntry, endpoint: str) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model.remote_name}
        if spec.prompt:
            body["promptText"] = spec.prompt
        if spec.seed is not None and model.capabilities.seed:
            body["seed"] = spec.seed
        if spec.negative_prompt and model.capabilities.negative_prompt:
            body["negativePrompt"] = spec.negative_prompt
        if endpoint == "video_to_video":
            assert spec.video is not None
            body["videoUri"] = await self._media_uri(spec.video, "video")
            return body
        body["ratio"] = _pixel_ratio(spec, model)
        body["duration"] = int(round(spec.duration_s))
        if facts_of(model, RunwayFacts).audio_field:
            # Always explicit: audio changes the price, so the default must match the quote (silent).
            body["audio"] = bool(spec.audio)
        if endpoint == "image_to_video":
            body["promptImage"] = await self._prompt_images(spec)
        return body

    async def _prompt_images(self, spec: GenerationSpec) -> str | list[dict[str, str]]:
        assert spec.first_frame is not None
        first = await self._media_uri(spec.first_frame, "first_frame")
        if spec.last_frame is None:
            return first
        last = await self._media_uri(spec.last_frame, "last_frame")
        return [{"uri": first, "position": "first"}, {"uri": last, "position": "last"}]

    async def _media_uri(self, ref: MediaRef, param: str) -> str:
        """A URI Runway accepts: the public URL, an inline data URI, or an uploaded `runway://` URI."""
        check_kind(ref, expected="video" if param == "video" else "image", param=param)
        if ref.kind == "url":
            assert ref.url is not None
            return ref.url
        size = input_size(ref, param=param)
        if size <= DATA_URI_MAX_BYTES:
            return await data_uri(ref, max_bytes=DATA_URI_MAX_BYTES, param=param, provider=self.title)
        if size > UPLOAD_MAX_BYTES:
            raise InvalidRequest(f"'{param}' is {size / 1e6:.0f} MB; Runway accepts at most 200 MB.", param=param)
        return await self._upload(ref, param)

    async def _upload(self, ref: MediaRef, param: str) -> str:
        """Runway's ephemeral upload: reserve a slot, POST the form, use the `runway://` URI (valid 24 h)."""
        slot = await self._send_read(
            "POST", self._url("/v1/uploads"), self._headers(), json={"filename": ref.local_path.name, "type": "ephemeral"}
        )
        if not slot or not {"uploadUrl", "fields", "runwayUri"} <= slot.keys():
            raise ProviderFailure("Runway's upload endpoint answered without an upload URL.")
        await upload_form(
            self.client, slot["uploadUrl"], slot["fields"], ref, param=param, provider=self.title,
            policy=self.retry,
        )  # fmt: skip
        return str(slot["runwayUri"])

    # --- the protocol hooks ------------------------------------------------------------------

    async def _create_request(self, spec: GenerationSpec, model: ModelEntry) -> str:
        """Upload local inputs if needed, then send the one create request; return the task id."""
        endpoint = _endpoint(spec, model)
        body = await self._body(spec, model, endpoint)
        task_id, _ = await self._send_create(self._url(f"/v1/{endpoint}"), body, self._headers())
        return task_id

    async def _read_job(self, remote_id: str, model: ModelEntry) -> dict[str, Any]:
        return await self._send_read("GET", self._url(f"/v1/tasks/{remote_id}"), self._headers()) or {}

    def _status_word(self, job: dict[str, Any]) -> str:
        return str(job.get("status", ""))

    async def _parse_status(self, job: dict[str, Any], state: RemoteState, remote_id: str,
                            model: ModelEntry) -> RemoteStatus:
        return task_status(job, state)

    async def _cancel_request(self, remote_id: str, model: ModelEntry) -> None:
        """DELETE cancels a running task (and deletes a finished one)."""
        await self._send_read("DELETE", self._url(f"/v1/tasks/{remote_id}"), {**self._headers(), "Accept": "*/*"})

    def _error_map(self) -> ErrorMap:
        return runway_error

    # --- helpers ------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.base_url("RUNWAYML_BASE_URL") + path

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential('RUNWAYML_API_SECRET')}", "X-Runway-Version": API_VERSION}


def task_status(task: dict[str, Any], state: RemoteState) -> RemoteStatus:
    """A Runway task object (of a known status) in our vocabulary."""
    cost = task.get("cost") if isinstance(task.get("cost"), dict) else None
    progress = task.get("progress")
    return RemoteStatus(
        state=state,
        progress=float(progress) if isinstance(progress, (int, float)) else None,
        output_urls=[u for u in task.get("output") or [] if isinstance(u, str)],
        error=task_failure(task) if state is RemoteState.FAILED else None,
        failure_code=(str(task.get("failureCode") or "") or None) if state is RemoteState.FAILED else None,
        cost_usd=round(float(cost["credits"]) * CREDIT_USD, 4) if cost and "credits" in cost else None,
    )


def task_failure(task: dict[str, Any]) -> ReelforgeError:
    """Runway's `failureCode` families as actionable errors."""
    code = str(task.get("failureCode") or "")
    reason = str(task.get("failure") or "no reason given")[:300]
    if code.startswith("SAFETY"):
        refund = " Input moderation failures are not refunded." if code.startswith("SAFETY.INPUT") else ""
        return ContentRejected(
            f"Runway's moderation refused the {'input' if 'INPUT' in code else 'output'} ({code}): {reason}.{refund}",
            hint="Rephrase the prompt or use a different image.",
        )
    if code.startswith("ASSET"):
        return InvalidRequest(f"Runway could not use an input file ({code}): {reason}.", param="first_frame")
    return ProviderFailure(f"Runway's task failed ({code or 'no code'}): {reason}. Trying again may work.")


def runway_error(response: httpx.Response) -> ReelforgeError:
    """Runway's `{"error": ...}` answers, refined from the shared status classification."""
    message = response_message(response)
    status = response.status_code
    lowered = message.lower()
    if "credit" in lowered and status in (400, 402, 403):
        return InsufficientCredits(
            f"Runway says the account has too few credits: {message}", hint="Add credits at dev.runwayml.com."
        )
    if status == 401:
        return AuthFailed("Runway refused the API key (HTTP 401).", hint="Check RUNWAYML_API_SECRET.")
    if status == 429:
        return RateLimited(
            f"Runway's rate limit or daily generation quota is reached (HTTP 429): {message}",
            retry_after=parse_retry_after(response.headers),
        )
    wire = re.search(r"'(\w+)'", message)
    param = _PARAM_NAMES.get(wire.group(1)) if wire else None
    return error_for_status(status, message, provider="Runway", param=param)


def _endpoint(spec: GenerationSpec, model: ModelEntry) -> str:
    endpoints = facts_of(model, RunwayFacts).endpoints
    kind = "video" if spec.video is not None else "image" if spec.first_frame is not None else "text"
    if kind not in endpoints:
        needs = {"video": "a video input", "image": "a first_frame image", "text": "a prompt only"}
        accepted = " or ".join(needs[k] for k in endpoints)
        raise UnsupportedParameter(f"{model.key} takes {accepted}; got {needs[kind]}.", param="first_frame")
    return endpoints[kind]


def _pixel_ratio(spec: GenerationSpec, model: ModelEntry) -> str | None:
    table = facts_of(model, RunwayFacts).ratios
    if not table:
        return None
    by_aspect = table.get(spec.resolution)
    if by_aspect is None or spec.aspect_ratio not in by_aspect:
        options = ", ".join(f"{a} at {r}" for r, aspects in table.items() for a in aspects)
        raise UnsupportedParameter(f"{model.key} accepts aspect_ratio/resolution {options}.", param="aspect_ratio")
    return by_aspect[spec.aspect_ratio]
