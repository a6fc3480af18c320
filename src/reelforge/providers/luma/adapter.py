"""Luma adapter: the Dream Machine generations API (ray-2, ray-flash-2) and the Agents API (ray-3.2).

Dream Machine (lumaai SDK 1.21, `providers.md` §2.1): `POST /generations/video` returns the whole
Generation; `GET /generations/{id}` moves queued -> dreaming -> completed | failed; the video is
`assets.video`. Keyframes do everything: `frame0`/`frame1` are `{"type": "image", "url"}` or
`{"type": "generation", "id"}`, so image-to-video, end frames, native extend (frame0 = the earlier
generation), reverse extend (frame1 = it) and interpolation are one field. `loop: true` is the
native seamless loop; camera moves are `concepts` keys. This API takes images by public URL only
(no data URIs, no upload endpoint), so local images are refused with what to do instead.

The Agents API (ray-3.2) lives in `agents`; models choose their API through their typed facts
(`LumaFacts.api`). Luma reports no progress numbers, so none are passed on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import httpx

from reelforge.errors import (
    InsufficientCredits,
    InvalidRequest,
    MissingCredentials,
    ReelforgeError,
    UnsupportedParameter,
)
from reelforge.providers.base import LostCreate, RemoteProvider, RemoteState, RemoteStatus, iso_epoch, single_match
from reelforge.providers.declaration import facts_of
from reelforge.providers.http import ErrorMap, error_for_status, parse_retry_after, response_message
from reelforge.providers.luma import DECLARATION
from reelforge.providers.luma import agents as luma_agents
from reelforge.providers.luma.common import check_frame_roles, failure_error, with_camera_phrase
from reelforge.providers.luma.facts import LumaFacts

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.generation_spec import GenerationSpec, MediaRef

log = logging.getLogger(__name__)

#: The official Agents SDK's key variable (luma-agents 0.5 reads LUMA_AGENTS_API_KEY).
AGENTS_KEY_ENV = "LUMA_AGENTS_API_KEY"

_STATES = {
    "queued": RemoteState.QUEUED,
    "dreaming": RemoteState.RUNNING,
    "completed": RemoteState.SUCCEEDED,
    "failed": RemoteState.FAILED,
}


class LumaProvider(RemoteProvider):
    declaration = DECLARATION
    states = _STATES

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        """Refuse what Luma's rules forbid beyond the catalog's generic checks."""
        if _is_agents(model):
            luma_agents.check(spec, model)
            return spec, []
        for param, ref in (("first_frame", spec.first_frame), ("last_frame", spec.last_frame)):
            if ref is not None and ref.kind == "file":
                raise UnsupportedParameter(
                    f"{model.key} (Luma's Dream Machine API) takes '{param}' only as a public HTTPS image URL; "
                    "it has no upload for local files. Pass an image URL, or use luma/ray-3.2, which accepts "
                    "local images.",
                    param=param,
                )
        check_frame_roles(spec, model)
        if not spec.prompt and spec.first_frame is None and not spec.continue_remote_id:
            raise InvalidRequest("A prompt is required for text-to-video with Luma.", param="prompt")
        return spec, []

    def require_credentials(self, model: ModelEntry | None = None) -> None:
        """Dream Machine needs LUMAAI_API_KEY; the Agents API its own LUMA_AGENTS_API_KEY (the official
        SDK's name), falling back to LUMAAI_API_KEY for accounts that use one key for both."""
        self._key(model)

    def _key(self, model: ModelEntry | None) -> str:
        if model is None or not _is_agents(model):
            return self.credential("LUMAAI_API_KEY")
        key = self.settings.key_for(AGENTS_KEY_ENV) or self.settings.key_for("LUMAAI_API_KEY")
        if not key:
            raise MissingCredentials("Luma's Agents API (ray-3.2)", AGENTS_KEY_ENV)
        return key

    async def _create_request(self, spec: GenerationSpec, model: ModelEntry) -> str:
        """Send the one create request (Dream Machine or Agents API) and return the generation id."""
        if _is_agents(model):
            body = await luma_agents.request_body(spec, model, provider=self.title)
            url = self.base_url("LUMA_AGENTS_BASE_URL") + "/generations"
        else:
            body = dream_machine_body(spec, model)
            url = self._url("/generations/video")
        remote_id, _ = await self._send_create(url, body, _auth(self._key(model)))
        return remote_id

    async def find_lost(self, lost: LostCreate, model: ModelEntry) -> str | None:
        """The Dream Machine generation a lost create started: `GET /generations` newest first, the one of
        this model and prompt created in the create's window. (The Agents API has no list we know of.)"""
        if _is_agents(model):
            return await super().find_lost(lost, model)
        self.require_credentials(model)
        found: list[str] = []
        for offset in range(0, 2000, 100):
            page = await self._send_read("GET", f"{self.base_url('LUMAAI_BASE_URL')}/generations", _auth(self._key(model)),
                                         params={"limit": "100", "offset": str(offset)}) or {}
            generations = page.get("generations") or []
            for gen in generations:
                created = iso_epoch(gen.get("created_at"))
                if (created is not None and lost.in_window(created) and gen.get("model") == model.remote_name
                        and (gen.get("request") or {}).get("prompt") == lost.spec.prompt):
                    found.append(str(gen["id"]))
            oldest = iso_epoch(generations[-1].get("created_at")) if generations else None
            if not page.get("has_more") or (oldest is not None and oldest < lost.sent_after - 60):
                break
        return single_match(found, self.title)

    async def _read_job(self, remote_id: str, model: ModelEntry) -> dict[str, Any]:
        base = self.base_url("LUMA_AGENTS_BASE_URL") if _is_agents(model) else self.base_url("LUMAAI_BASE_URL")
        return await self._send_read("GET", f"{base}/generations/{remote_id}", _auth(self._key(model))) or {}

    def _status_word(self, job: dict[str, Any]) -> str:
        return str(job.get("state", ""))

    def _state_of(self, raw: str, model: ModelEntry) -> RemoteState | None:
        return (luma_agents.STATES if _is_agents(model) else _STATES).get(raw)

    async def _parse_status(self, job: dict[str, Any], state: RemoteState, remote_id: str,
                            model: ModelEntry) -> RemoteStatus:
        if _is_agents(model):
            return luma_agents.generation_status(job, state)
        return generation_status(job, state)

    async def _cancel_request(self, remote_id: str, model: ModelEntry) -> None:
        """Dream Machine: DELETE the generation (stops and removes it). The Agents API has no cancel."""
        if _is_agents(model):
            log.info("luma agents API has no cancel; generation %s runs to its end", remote_id)
            return
        await self._send_read("DELETE", self._url(f"/generations/{remote_id}"), _auth(self._key(model)))

    def _url(self, path: str) -> str:
        return self.base_url("LUMAAI_BASE_URL") + path

    def _error_map(self) -> ErrorMap:
        return luma_error


def dream_machine_body(spec: GenerationSpec, model: ModelEntry) -> dict[str, Any]:
    """The Dream Machine create body: snake_case, durations as "5s", keyframes for every image role."""
    body: dict[str, Any] = {
        "model": model.remote_name, "generation_type": "video", "aspect_ratio": spec.aspect_ratio,
        "resolution": spec.resolution, "duration": f"{spec.duration_s:g}s",
    }  # fmt: skip
    prompt = spec.prompt
    if spec.camera_move:
        if facts_of(model, LumaFacts).camera == "concepts":
            body["concepts"] = [{"key": spec.camera_move}]
        else:
            prompt = with_camera_phrase(prompt, spec.camera_move)
    if prompt:
        body["prompt"] = prompt
    if spec.loop:
        body["loop"] = True
    keyframes = _keyframes(spec)
    if keyframes:
        body["keyframes"] = keyframes
    return body


def _keyframes(spec: GenerationSpec) -> dict[str, dict[str, str]]:
    frames: dict[str, dict[str, str]] = {}
    if spec.first_frame is not None:
        frames["frame0"] = _image_keyframe(spec.first_frame)
    if spec.last_frame is not None:
        frames["frame1"] = _image_keyframe(spec.last_frame)
    if spec.continue_remote_id:
        slot = "frame0" if spec.continue_direction == "forward" else "frame1"
        frames[slot] = {"type": "generation", "id": spec.continue_remote_id}
    return frames


def _image_keyframe(ref: MediaRef) -> dict[str, str]:
    if ref.kind != "url" or not ref.url:
        raise UnsupportedParameter("Luma's Dream Machine API takes images only by public URL.", param="first_frame")
    return {"type": "image", "url": ref.url}


def generation_status(generation: dict[str, Any], state: RemoteState) -> RemoteStatus:
    """A Dream Machine Generation (of a known state) in our vocabulary."""
    assets = generation.get("assets") or {}
    video = assets.get("video") if isinstance(assets, dict) else None
    return RemoteStatus(
        state=state,
        output_urls=[video] if isinstance(video, str) and state is RemoteState.SUCCEEDED else [],
        error=failure_error(str(generation.get("failure_reason") or "")) if state is RemoteState.FAILED else None,
    )


def luma_error(response: httpx.Response) -> ReelforgeError:
    """Luma's `{"detail": ...}` answers, refined from the shared status classification."""
    message = response_message(response)
    status = response.status_code
    if "credit" in message.lower() and status in (400, 402, 403):
        return InsufficientCredits(f"Luma says the account has too few credits: {message}", hint="Add credits at lumalabs.ai.")
    if status == 401:
        return error_for_status(401, f"{message} (check LUMAAI_API_KEY)", provider="Luma")
    param = next((p for p in ("prompt", "aspect_ratio", "duration", "resolution", "keyframes", "loop", "concepts")
                  if p in message), None)  # fmt: skip
    return error_for_status(status, message, provider="Luma", retry_after=parse_retry_after(response.headers),
                            param=_PARAMS.get(param or "", param))  # fmt: skip


_PARAMS = {"duration": "duration_s", "keyframes": "first_frame", "concepts": "camera_move"}


def _is_agents(model: ModelEntry) -> bool:
    return facts_of(model, LumaFacts).api == "agents"


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
