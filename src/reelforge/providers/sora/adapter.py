"""OpenAI Videos API adapter (Sora 2): create, poll, download with the key, delete.

Wire facts (openai SDK 3.57 `resources/videos.py`, `types/video*.py`; providers-update.md):
* `POST /videos` as multipart/form-data, which is what the SDK always sends: `prompt`, `model`,
  `seconds` as a string "4" | "8" | "12", `size` one of 720x1280, 1280x720, 1024x1792, 1792x1024, and
  an optional `input_reference` image uploaded exactly at `size`. An image URL goes as JSON
  (`"input_reference": {"image_url": ...}`), see `_body`. The answer is the Video object; its `id`
  is the job.
* `GET /videos/{id}`: `status` queued | in_progress | completed | failed, an integer `progress`
  (0-100), `error {code, message}` when failed, `expires_at` for the stored assets.
* `GET /videos/{id}/content` streams the mp4 and needs the bearer key (there is no public link);
  `?variant=thumbnail` is a free webp poster. `DELETE /videos/{id}` deletes the video; it is what
  cancel sends (whether it stops a render already running is not documented).
* `POST /videos/extensions` (JSON `prompt`, `seconds` 4-20, `video: {id}`): native extend, used when a
  spec carries `continue_remote_id`. Its result is the stitched whole (the SDK: "for extensions,
  this is the stitched total duration"), which is why the catalog still says `extend: last_frame`.
* Errors are `{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from reelforge.errors import (
    AuthFailed,
    ContentRejected,
    InsufficientCredits,
    OutcomeUnknown,
    ProviderFailure,
    ReelforgeError,
    UnsupportedParameter,
)
from reelforge.providers.base import LostCreate, RemoteProvider, RemoteState, RemoteStatus, single_match
from reelforge.providers.declaration import facts_of
from reelforge.providers.http import DO_NOT_RESUBMIT, ErrorMap, error_for_status, parse_retry_after, response_message, send
from reelforge.providers.sora import DECLARATION
from reelforge.providers.sora.facts import SoraFacts
from reelforge.providers.sora.reference import conform_note, parse_size, reference_file

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.generation_spec import GenerationSpec

_STATES = {
    "queued": RemoteState.QUEUED,
    "in_progress": RemoteState.RUNNING,
    "completed": RemoteState.SUCCEEDED,
    "failed": RemoteState.FAILED,
}
#: OpenAI's `param` -> the tool parameter a calling model knows.
_PARAM_NAMES = {
    "prompt": "prompt", "seconds": "duration_s", "size": "aspect_ratio", "model": "model",
    "input_reference": "image", "video": "source",
}  # fmt: skip
#: Failure codes (job `error.code` or a 400's `code`) that mean moderation refused the request [3P].
_MODERATION = ("moderation", "content_policy", "safety")


class SoraProvider(RemoteProvider):
    declaration = DECLARATION
    states = _STATES

    # --- request shaping ----------------------------------------------------------------------

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        """Refuse what Sora cannot do; snap width/height to Sora's exact pixel size, with notes."""
        facts = facts_of(model, SoraFacts)
        size = sora_size(spec, model)
        if spec.audio is False and facts.always_audio:
            raise UnsupportedParameter(f"{model.key} always generates audio; silent clips are not offered.", param="audio")
        if spec.last_frame is not None:
            raise UnsupportedParameter(f"{model.key} takes a first frame only, no last frame.", param="last_image")
        notes: list[str] = []
        if spec.continue_remote_id:
            _check_extension(spec, model, facts)
            notes.append(f"Sora extends the earlier video by {spec.duration_s:g} s and returns the whole, stitched clip.")
        if spec.first_frame is not None:
            note = conform_note(spec.first_frame, size, "image")
            if note:
                notes.append(note)
            elif spec.first_frame.kind == "url":
                notes.append(f"Sora refuses a reference image that is not exactly {size}; make sure the URL's image is.")
        width, height = parse_size(size)
        if (width, height) != (spec.width, spec.height):
            spec = spec.model_copy(update={"width": width, "height": height})
        return spec, notes

    async def _body(self, spec: GenerationSpec, model: ModelEntry) -> tuple[str, dict[str, Any]]:
        """The endpoint and `send` keywords: multipart as the SDK sends it, JSON where only JSON fits.

        The SDK (3.57) cannot send a reference *object* (`{"image_url"}`, `{"id"}`) in its multipart
        forms (its file extraction refuses a dict), so those requests go as JSON, the shape the API's
        types describe; everything else goes exactly as the SDK sends it.
        """
        seconds = str(int(round(spec.duration_s)))
        if spec.continue_remote_id:
            return "/videos/extensions", {"json": {"prompt": spec.prompt, "seconds": seconds,
                                                   "video": {"id": spec.continue_remote_id}}}
        size = sora_size(spec, model)
        fields = {"prompt": spec.prompt, "model": model.remote_name, "seconds": seconds, "size": size}
        ref = spec.first_frame
        if ref is not None and ref.kind == "url":
            return "/videos", {"json": {**fields, "input_reference": {"image_url": ref.url}}}
        parts = _text_parts(fields)
        if ref is not None:
            parts.append(("input_reference", await reference_file(ref, size, "image")))
        return "/videos", {"files": parts}

    # --- the protocol hooks ------------------------------------------------------------------

    async def _create_request(self, spec: GenerationSpec, model: ModelEntry) -> str:
        """Read and shape inputs first, then send the one create request; return the video id."""
        path, body = await self._body(spec, model)
        response = await send(self.client, "POST", self._url(path), headers=self._headers(), **body,
                              retry_reads=False, expect_json=True, error_map=self._error_map(), provider=self.title,
                              policy=self.retry)  # fmt: skip
        answer = response.json()
        remote_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(remote_id, str) or not remote_id:
            raise OutcomeUnknown(
                f"{self.title} accepted the create request but its answer has no video id, so the job cannot "
                "be followed (it may have been started and billed).", hint=DO_NOT_RESUBMIT)
        return remote_id

    async def find_lost(self, lost: LostCreate, model: ModelEntry) -> str | None:
        """The video a lost create started: `GET /videos` newest first, the one of this model and
        prompt created in the create's window (the API has no client reference to tag it with)."""
        self.require_credentials(model)
        found: list[str] = []
        after: str | None = None
        for _ in range(20):  # 2,000 videos back at most: far more than a window of seconds holds
            query = {"order": "desc", "limit": "100", **({"after": after} if after else {})}
            page = await self._send_read("GET", self._url("/videos"), self._headers(), params=query) or {}
            videos = page.get("data") or []
            for video in videos:
                if (lost.in_window(float(video.get("created_at") or 0)) and video.get("model") == model.remote_name
                        and video.get("prompt") == lost.spec.prompt):
                    found.append(str(video["id"]))
            oldest = float(videos[-1].get("created_at") or 0) if videos else 0.0
            if not page.get("has_more") or not videos or oldest < lost.sent_after - 60:
                break
            after = str(videos[-1]["id"])
        return single_match(found, self.title)

    async def _read_job(self, remote_id: str, model: ModelEntry) -> dict[str, Any]:
        return await self._send_read("GET", self._url(f"/videos/{remote_id}"), self._headers()) or {}

    def _status_word(self, job: dict[str, Any]) -> str:
        return str(job.get("status", ""))

    async def _parse_status(self, job: dict[str, Any], state: RemoteState, remote_id: str,
                            model: ModelEntry) -> RemoteStatus:
        progress = job.get("progress")
        fraction = min(1.0, max(0.0, progress / 100)) if isinstance(progress, (int, float)) else None
        # Only an in-progress number is news: a queued 0 is not the provider measuring anything.
        return RemoteStatus(
            state=state,
            progress=fraction if state is RemoteState.RUNNING else None,
            output_urls=[self._url(f"/videos/{remote_id}/content")] if state is RemoteState.SUCCEEDED else [],
            error=video_failure(job) if state is RemoteState.FAILED else None,
        )

    async def _cancel_request(self, remote_id: str, model: ModelEntry) -> None:
        """DELETE the video: the Videos API's only way to drop a job (and its stored assets)."""
        await self._send_read("DELETE", self._url(f"/videos/{remote_id}"), self._headers())

    def _error_map(self) -> ErrorMap:
        return openai_error

    def _download_headers(self) -> dict[str, str]:
        """The content endpoint is the API itself: the video is fetched with the key, never a public link."""
        return self._headers()

    # --- helpers ------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.base_url("OPENAI_BASE_URL") + path

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential('OPENAI_API_KEY')}"}


def sora_size(spec: GenerationSpec, model: ModelEntry) -> str:
    """Sora's `size` for the spec's resolution and aspect ratio, or a refusal naming what exists."""
    table = facts_of(model, SoraFacts).sizes
    size = table.get(spec.resolution, {}).get(spec.aspect_ratio)
    if size is None:
        options = ", ".join(f"{a} at {r} ({s})" for r, aspects in table.items() for a, s in aspects.items())
        raise UnsupportedParameter(f"{model.key} renders {options}.", param="aspect_ratio")
    return size


def _check_extension(spec: GenerationSpec, model: ModelEntry, facts: SoraFacts) -> None:
    if spec.continue_direction != "forward":
        raise UnsupportedParameter("Sora extends forward only.", param="direction")
    if spec.first_frame is not None:
        raise UnsupportedParameter("An extension continues the earlier video; do not also give an image.", param="image")
    if int(spec.duration_s) != spec.duration_s or int(spec.duration_s) not in facts.extension_seconds:
        accepted = ", ".join(map(str, facts.extension_seconds))
        raise UnsupportedParameter(f"Sora extends by {accepted} s.", param="duration_s")


def _text_parts(fields: dict[str, str]) -> list[tuple[str, tuple[None, str]]]:
    """Form fields as multipart parts (httpx sends `files` entries with no file name as plain fields)."""
    return [(name, (None, value)) for name, value in fields.items()]


def video_failure(job: dict[str, Any]) -> ReelforgeError:
    """A failed Video's `error {code, message}` as an actionable error."""
    error = job.get("error") if isinstance(job.get("error"), dict) else {}
    code = str(error.get("code") or "")
    said = str(error.get("message") or "no reason given")[:300]
    if any(word in code.lower() for word in _MODERATION):
        return ContentRejected(f"OpenAI's moderation refused the video ({code}): {said}",
                               hint="Rephrase the prompt; Sora refuses real people, copyrighted characters and "
                                    "music, and images with human faces.")
    return ProviderFailure(f"Sora's render failed ({code or 'no code'}): {said} Trying again may work.")


def openai_error(response: httpx.Response) -> ReelforgeError:
    """OpenAI's `{"error": {...}}` answers, refined from the shared status classification."""
    status = response.status_code
    body = _error_body(response)
    code, param = str(body.get("code") or ""), body.get("param")
    message = response_message(response)
    if status == 401:
        # OpenAI's 401 text quotes part of the key: it is left out entirely.
        return AuthFailed("OpenAI refused the API key (HTTP 401).", hint="Check OPENAI_API_KEY.")
    if code == "insufficient_quota" or code == "billing_hard_limit_reached":
        return InsufficientCredits(f"OpenAI says the account's quota or budget is used up: {message}",
                                   hint="Add credits or raise the limit at platform.openai.com (Sora needs usage tier 2+).")
    if any(word in code.lower() for word in _MODERATION):
        return ContentRejected(f"OpenAI's moderation refused the request ({code}): {message}",
                               hint="Rephrase the prompt or use a different image.")
    ours = _PARAM_NAMES.get(str(param).split("[")[0]) if param else None
    return error_for_status(status, message, provider="OpenAI", param=ours,
                            retry_after=parse_retry_after(response.headers))


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}
