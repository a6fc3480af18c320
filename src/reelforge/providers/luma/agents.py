"""The Luma Agents API wire format (ray-3.2): request body, checks, and Generation parsing.

Contract (luma-agents SDK 0.3.x, `providers.md` §2.2): `POST /generations` with `model`, `type:
"video"`, `prompt` (required), `aspect_ratio`, and `video: {duration "5s"|"10s", resolution, loop,
start_frame, end_frame}`. An image reference is exactly one of `{"url"}`, `{"data", "media_type"}`
(inline base64, which is how local files go) or `{"generation_id"}` (native extend: the earlier
generation as `start_frame` forward, `end_frame` backward). Poll `GET /generations/{id}`: queued ->
processing -> completed | failed (`failure_code`), outputs in `output[]` (presigned for 1 h).
`LumaProvider` calls in here for models whose facts say `api: "agents"`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reelforge.errors import InvalidRequest, UnsupportedParameter
from reelforge.providers.base import RemoteState, RemoteStatus
from reelforge.providers.input_files import base64_payload, check_kind
from reelforge.providers.luma.common import check_frame_roles, failure_error, with_camera_phrase

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.generation_spec import GenerationSpec, MediaRef

#: Inline image ceiling we allow in one JSON body. Luma's documented URL/data limit is far higher
#: (200 MB, 3P dated); a smaller cap keeps request bodies sane.
INLINE_MAX_BYTES = 10 * 1024 * 1024
MAX_PROMPT_CHARS = 6000

STATES = {
    "queued": RemoteState.QUEUED,
    "processing": RemoteState.RUNNING,
    "completed": RemoteState.SUCCEEDED,
    "failed": RemoteState.FAILED,
}


def check(spec: GenerationSpec, model: ModelEntry) -> None:
    """ray-3.2 rules beyond the catalog: a prompt always; loop not with 10 s or an end frame."""
    if not spec.prompt.strip():
        raise InvalidRequest(f"{model.key} needs a prompt (1-{MAX_PROMPT_CHARS} characters).", param="prompt")
    if spec.loop and spec.duration_s > 5:
        raise UnsupportedParameter(f"{model.key} loops only 5 s clips; use duration_s=5.", param="loop")
    check_frame_roles(spec, model)


async def request_body(spec: GenerationSpec, model: ModelEntry, *, provider: str) -> dict[str, Any]:
    """The Agents create body; local images are inlined as base64 with their sniffed media type."""
    prompt = with_camera_phrase(spec.prompt, spec.camera_move) if spec.camera_move else spec.prompt
    video: dict[str, Any] = {"duration": f"{spec.duration_s:g}s", "resolution": spec.resolution}
    if spec.loop:
        video["loop"] = True
    if spec.first_frame is not None:
        video["start_frame"] = await _image_ref(spec.first_frame, "first_frame", provider)
    if spec.last_frame is not None:
        video["end_frame"] = await _image_ref(spec.last_frame, "last_frame", provider)
    if spec.continue_remote_id:
        slot = "start_frame" if spec.continue_direction == "forward" else "end_frame"
        video[slot] = {"generation_id": spec.continue_remote_id}
    return {"model": model.remote_name, "type": "video", "prompt": prompt, "aspect_ratio": spec.aspect_ratio, "video": video}


async def _image_ref(ref: MediaRef, param: str, provider: str) -> dict[str, str]:
    check_kind(ref, expected="image", param=param)
    if ref.kind == "url":
        assert ref.url is not None
        return {"url": ref.url}
    data, media_type = await base64_payload(ref, max_bytes=INLINE_MAX_BYTES, param=param, provider=provider)
    return {"data": data, "media_type": media_type}


def generation_status(generation: dict[str, Any], state: RemoteState) -> RemoteStatus:
    """An Agents Generation (of a known state) in our vocabulary (the first `video` output is the result)."""
    outputs = [o for o in generation.get("output") or [] if isinstance(o, dict) and isinstance(o.get("url"), str)]
    videos = [o["url"] for o in outputs if o.get("type") == "video"]
    error = None
    if state is RemoteState.FAILED:
        error = failure_error(str(generation.get("failure_reason") or ""), str(generation.get("failure_code") or ""))
    return RemoteStatus(
        state=state,
        output_urls=videos if state is RemoteState.SUCCEEDED else [],
        error=error,
    )
