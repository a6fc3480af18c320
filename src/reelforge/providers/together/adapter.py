"""Together AI video adapter: one create (`POST /v2/videos`), status reads (`GET /v2/videos/{id}`).

Wire facts (together SDK 3.1.1 `resources/videos.py`, `types/video_create_params.py`,
`types/video_job.py`; providers.md §6; Together's docs and skill pages):
* bearer key; the SDK's base is `https://api.together.ai` (`TOGETHER_BASE_URL`) and the paths are
  `/v2/videos` and `/v2/videos/{id}`;
* JSON body: `model`, `prompt`, `width`/`height` (exact per-model pixel sizes, the catalog's
  `sizes`), `seconds` as a *string*, `fps`, `seed`, `negative_prompt`, and keyframes under
  `media.frame_images: [{"input_image", "frame": "first"|"last"}]` (older docs showed
  `frame_images` at the top level; the SDK nests it under `media`). `input_image` is a public URL or
  raw base64; inline images are small only, so bigger local files are refused before any request;
* the create answer is the job (`id`, `status`); the job reads `queued`/`in_progress` ->
  `completed` with `outputs {video_url, cost}` (the cost charged, in USD) or `failed` with
  `error {code, message}`; `cancelled` exists in the docs' status table;
* there is no cancel, delete or list endpoint (SDK 3.1.1 has only create and retrieve).
Errors are OpenAI-style `{"error": {"message", "type", "param", "code"}}` [unverified beyond the SDK's
generic handling].
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import httpx

from reelforge.errors import (
    AuthFailed,
    ContentRejected,
    InsufficientCredits,
    InvalidRequest,
    ProviderFailure,
    ReelforgeError,
    UnsupportedParameter,
)
from reelforge.providers.base import RemoteProvider, RemoteState, RemoteStatus
from reelforge.providers.declaration import facts_of
from reelforge.providers.http import ErrorMap, error_for_status, parse_retry_after, response_message
from reelforge.providers.input_files import check_kind, input_size, read_limited
from reelforge.providers.together import DECLARATION
from reelforge.providers.together.facts import TogetherFacts

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.generation_spec import GenerationSpec, MediaRef

#: Inline (base64) images ride in the JSON body; providers.md §6 puts the cap near 60 KB.
INLINE_IMAGE_MAX_BYTES = 60 * 1024

_STATES = {
    "queued": RemoteState.QUEUED,
    "in_progress": RemoteState.RUNNING,
    "completed": RemoteState.SUCCEEDED,
    "failed": RemoteState.FAILED,
    "cancelled": RemoteState.CANCELED,
}
#: Together's wire field -> the tool parameter a calling model knows.
_PARAM_NAMES = {
    "prompt": "prompt", "seconds": "duration_s", "width": "aspect_ratio", "height": "aspect_ratio",
    "fps": "fps", "seed": "seed", "negative_prompt": "negative_prompt", "model": "model",
    "media": "image", "frame_images": "image",
}  # fmt: skip
#: Words in an error code that mean moderation refused the request or the output [unverified].
_MODERATION = ("moderation", "content_policy", "safety", "nsfw", "sensitive")


class TogetherProvider(RemoteProvider):
    declaration = DECLARATION
    states = _STATES

    # --- request shaping ----------------------------------------------------------------------

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        """Refuse what the catalog's generic checks cannot see; snap width/height to the model's exact size."""
        facts = facts_of(model, TogetherFacts)
        width, height = _size(spec, model)
        if facts.always_audio and spec.audio is False:
            silent = model.id.removesuffix("-audio")
            raise UnsupportedParameter(f"{model.key} always generates audio; use together/{silent} for a silent clip.",
                                       param="audio")
        if spec.continue_remote_id:
            raise UnsupportedParameter("Together has no native extend; extend uses the last frame.",
                                       param="continue_remote_id")
        if spec.last_frame is not None and "last" not in facts.keyframes:
            raise UnsupportedParameter(f"{model.key} takes a first frame only, no last frame.", param="last_image")
        for param, ref in (("image", spec.first_frame), ("last_image", spec.last_frame)):
            _check_image(ref, param)
        notes: list[str] = []
        if (width, height) != (spec.width, spec.height):
            notes.append(f"{model.key} renders {spec.aspect_ratio} at {spec.resolution} as {width}x{height}.")
            spec = spec.model_copy(update={"width": width, "height": height})
        return spec, notes

    async def _body(self, spec: GenerationSpec, model: ModelEntry) -> dict[str, Any]:
        facts = facts_of(model, TogetherFacts)
        width, height = _size(spec, model)
        body: dict[str, Any] = {"model": model.remote_name, "width": width, "height": height,
                                "seconds": str(int(round(spec.duration_s)))}
        if spec.prompt:
            body["prompt"] = spec.prompt
        if facts.send_fps:
            body["fps"] = spec.fps
        if spec.seed is not None and model.capabilities.seed:
            body["seed"] = spec.seed
        if spec.negative_prompt and model.capabilities.negative_prompt:
            body["negative_prompt"] = spec.negative_prompt
        frames = [{"input_image": await self._image(ref, param), "frame": position}
                  for position, param, ref in (("first", "image", spec.first_frame),
                                               ("last", "last_image", spec.last_frame)) if ref is not None]
        if frames:
            body["media"] = {"frame_images": frames}
        return body

    async def _image(self, ref: MediaRef, param: str) -> str:
        """A public URL as given, or a small local image as raw base64 (Together's documented inline form)."""
        _check_image(ref, param)
        if ref.kind == "url":
            assert ref.url is not None
            return ref.url
        data, _ = await read_limited(ref, max_bytes=INLINE_IMAGE_MAX_BYTES, param=param, provider=self.title)
        return base64.b64encode(data).decode("ascii")

    # --- the protocol hooks ------------------------------------------------------------------

    async def _create_request(self, spec: GenerationSpec, model: ModelEntry) -> str:
        """Read the inputs first, then send the one create request; return the job id."""
        body = await self._body(spec, model)
        job_id, _ = await self._send_create(self._url("/v2/videos"), body, self._headers())
        return job_id

    async def _read_job(self, remote_id: str, model: ModelEntry) -> dict[str, Any]:
        return await self._send_read("GET", self._url(f"/v2/videos/{remote_id}"), self._headers()) or {}

    def _status_word(self, job: dict[str, Any]) -> str:
        return str(job.get("status", ""))

    async def _parse_status(self, job: dict[str, Any], state: RemoteState, remote_id: str,
                            model: ModelEntry) -> RemoteStatus:
        return job_status(job, state)

    def _error_map(self) -> ErrorMap:
        return together_error

    # --- helpers ------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.base_url("TOGETHER_BASE_URL") + path

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential('TOGETHER_API_KEY')}"}


def job_status(job: dict[str, Any], state: RemoteState) -> RemoteStatus:
    """A Together video job (of a known status) in our vocabulary; `outputs.cost` is what was charged."""
    outputs = job.get("outputs") if isinstance(job.get("outputs"), dict) else {}
    url = outputs.get("video_url")
    cost = outputs.get("cost")
    return RemoteStatus(
        state=state,
        output_urls=[url] if state is RemoteState.SUCCEEDED and isinstance(url, str) and url else [],
        error=job_failure(job) if state is RemoteState.FAILED else None,
        # The SDK types `cost` as an int, the docs show 0.28: both are dollars.
        cost_usd=round(float(cost), 4) if isinstance(cost, (int, float)) and not isinstance(cost, bool) else None,
    )


def job_failure(job: dict[str, Any]) -> ReelforgeError:
    """A failed job's `error {code, message}` as an actionable error."""
    error = job.get("error") if isinstance(job.get("error"), dict) else {}
    code = str(error.get("code") or "")
    said = str(error.get("message") or "no reason given")[:300]
    if any(word in f"{code} {said}".lower() for word in _MODERATION):
        return ContentRejected(f"Together's moderation refused the video ({code or 'no code'}): {said}",
                               hint="Rephrase the prompt or use a different image.")
    return ProviderFailure(f"Together's render failed ({code or 'no code'}): {said} Trying again may work.")


def together_error(response: httpx.Response) -> ReelforgeError:
    """Together's `{"error": {...}}` answers, refined from the shared status classification."""
    status = response.status_code
    body = _error_body(response)
    code, param = str(body.get("code") or body.get("type") or ""), body.get("param")
    message = response_message(response)
    if status == 401:
        return AuthFailed("Together refused the API key (HTTP 401).", hint="Check TOGETHER_API_KEY.")
    lowered = f"{code} {message}".lower()
    if status == 402 or (status in (400, 403) and ("credit" in lowered or "balance" in lowered)):
        return InsufficientCredits(f"Together says the account has too little credit: {message}",
                                   hint="Add credits at api.together.ai/settings/billing.")
    if status == 400 and any(word in code.lower() for word in _MODERATION):
        return ContentRejected(f"Together's moderation refused the request ({code}): {message}",
                               hint="Rephrase the prompt or use a different image.")
    ours = _PARAM_NAMES.get(str(param).split(".")[0].split("[")[0]) if param else None
    return error_for_status(status, message, provider="Together", param=ours,
                            retry_after=parse_retry_after(response.headers))


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _size(spec: GenerationSpec, model: ModelEntry) -> tuple[int, int]:
    """The model's exact pixel size for the spec's resolution and aspect ratio, or a refusal naming them all."""
    sizes = facts_of(model, TogetherFacts).sizes
    size = sizes.get(spec.resolution, {}).get(spec.aspect_ratio)
    if size is None:
        options = ", ".join(f"{a} at {r}" for r, aspects in sizes.items() for a in aspects)
        raise UnsupportedParameter(f"{model.key} renders {options}.", param="aspect_ratio")
    width, _, height = size.partition("x")
    return int(width), int(height)


def _check_image(ref: MediaRef | None, param: str) -> None:
    """Inputs Together cannot take, refused before any request: non-images, plain http, big local files."""
    if ref is None:
        return
    check_kind(ref, expected="image", param=param)
    if ref.kind == "url":
        if not (ref.url or "").startswith("https://"):
            raise UnsupportedParameter(f"Together fetches '{param}' only from https:// URLs.", param=param)
        return
    size = input_size(ref, param=param)
    if size > INLINE_IMAGE_MAX_BYTES:
        raise InvalidRequest(
            f"'{param}' is {size / 1024:.0f} KB; Together takes local images inline only up to "
            f"{INLINE_IMAGE_MAX_BYTES // 1024} KB.", param=param,
            hint="Pass a public https:// URL of the image, or a smaller JPEG.")
