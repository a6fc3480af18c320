"""Seedance (ByteDance) direct on Ark: one task API for text, first frame, first+last and references.

Wire facts (byteplus-python-sdk-v2 3.0.63, `byteplussdkarkruntime` `content_generation.tasks`, and
`providers-update.md`): bearer `ARK_API_KEY` against the region host `ARK_BASE_URL`;
`POST /contents/generations/tasks` with `model` and `content` (one `text` item, `image_url` items
whose `role` is first_frame, last_frame or reference_image) plus top-level `ratio`, `resolution`,
`duration`, `generate_audio`, `watermark`, `seed`; it answers `{"id": "cgt-..."}`. The task at
`GET .../tasks/{id}` goes queued -> running -> succeeded | failed (| cancelled, | expired), with
`content.video_url` (a signed link, cleared after 24 h) and `usage.completion_tokens`, which is
what Ark bills. `DELETE .../tasks/{id}` cancels a queued task (and deletes a finished one's record);
a running task cannot be cancelled. `GET .../tasks?filter.*` lists tasks (7 days) for recovery.

Seedance 1.x also read parameters as flags inside the prompt (`--rs 720p --dur 5`); we send fields
and refuse prompts carrying such flags, since a flag would change what is rendered and billed.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from reelforge.errors import InvalidRequest, UnsupportedParameter
from reelforge.providers.base import LostCreate, RemoteProvider, RemoteState, RemoteStatus, single_match
from reelforge.providers.declaration import facts_of
from reelforge.providers.http import ErrorMap
from reelforge.providers.input_files import check_image_file, check_kind, data_uri
from reelforge.providers.seedance import DECLARATION
from reelforge.providers.seedance.facts import SeedanceFacts
from reelforge.providers.seedance.wire import STATES, seedance_error, task_failure

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.generation_spec import GenerationSpec, MediaRef

log = logging.getLogger(__name__)

#: Ark's per-image ceiling (third-party docs: images under 30 MB); local images go inline as base64.
IMAGE_MAX_BYTES = 30 * 1024 * 1024
SEED_MAX = 2**32 - 1
#: Options this adapter reads from the tool's `options`.
OPTIONS = ("reference_images", "watermark")
#: Seedance's prompt flags (`--rs 720p`, `--duration 5`, `--wm true` ...), full and short spellings.
_PROMPT_FLAG = re.compile(
    r"(?:^|\s)--(?:rs|resolution|rt|ratio|dur|duration|frames|fps|seed|wm|watermark|cf|camerafixed)\b", re.I
)


class SeedanceProvider(RemoteProvider):
    declaration = DECLARATION
    states = STATES

    # --- request shaping ----------------------------------------------------------------------

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        """Refuse what Ark would refuse (or bill differently), and set the size Seedance renders."""
        facts = facts_of(model, SeedanceFacts)
        self._wire_model(model)
        size = facts.size(spec.resolution, spec.aspect_ratio)
        if size is None:
            offered = "; ".join(f"{r}: {', '.join(a)}" for r, a in facts.sizes.items())
            raise UnsupportedParameter(f"{model.key} renders aspect_ratio/resolution {offered}.", param="aspect_ratio")
        if abs(spec.duration_s - round(spec.duration_s)) > 1e-6:
            raise UnsupportedParameter(f"{model.key} takes whole seconds (duration_s {spec.duration_s:g}).",
                                       param="duration_s")
        if _PROMPT_FLAG.search(spec.prompt):
            raise UnsupportedParameter(
                "The prompt carries a Seedance parameter flag (e.g. '--duration 5'); give duration_s, aspect_ratio, "
                "resolution and seed as parameters instead, so the quote matches what is rendered.", param="prompt")
        if spec.seed is not None and not 0 <= spec.seed <= SEED_MAX:
            raise UnsupportedParameter(f"Seedance takes a seed from 0 to {SEED_MAX}.", param="seed")
        _check_inputs(spec, model, facts, self.settings)
        width, height = size
        tokens = facts.tokens(width, height, spec.fps, round(spec.duration_s))
        per_million = facts.usd_per_million_tokens[spec.resolution]
        notes = [f"Seedance renders {spec.aspect_ratio} at {spec.resolution} as {width}x{height}: about "
                 f"{tokens:,} output tokens at ${per_million:g} per million."]
        return spec.model_copy(update={"width": width, "height": height}), notes

    async def _body(self, spec: GenerationSpec, model: ModelEntry) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        if spec.prompt:
            content.append({"type": "text", "text": spec.prompt})
        for role, ref, param in (("first_frame", spec.first_frame, "first_frame"),
                                 ("last_frame", spec.last_frame, "last_frame")):
            if ref is not None:
                content.append(_image_item(await self._image_url(ref, param), role))
        for i, raw in enumerate(_references(spec)):
            param = f"options.reference_images[{i}]"
            if not raw.startswith("https://"):  # vetted again: options arrive past the studio's path checks
                from reelforge.security import check_local_path

                raw = await self._image_url(_file_ref(str(check_local_path(raw, self.settings, param=param))), param)
            content.append(_image_item(raw, "reference_image"))
        body: dict[str, Any] = {
            "model": self._wire_model(model), "content": content, "ratio": spec.aspect_ratio,
            "resolution": spec.resolution, "duration": int(round(spec.duration_s)),
            # Explicit, never Ark's defaults: 2.0 turns audio on unless told, and a watermark is a surprise.
            "generate_audio": bool(spec.audio), "watermark": bool(spec.extra.get("watermark", False)),
            # The last frame as a still, at no charge: extend_video continues from it (lossless).
            "return_last_frame": True,
        }  # fmt: skip
        if spec.seed is not None:
            body["seed"] = spec.seed
        return body

    async def _image_url(self, ref: MediaRef, param: str) -> str:
        """A public HTTPS URL as given; a local image inline as a base64 data URI."""
        check_kind(ref, expected="image", param=param)
        if ref.kind == "url":
            assert ref.url is not None
            return ref.url
        return await data_uri(ref, max_bytes=IMAGE_MAX_BYTES, param=param, provider=self.title)

    # --- the protocol hooks ------------------------------------------------------------------

    async def _create_request(self, spec: GenerationSpec, model: ModelEntry) -> str:
        body = await self._body(spec, model)
        task_id, _ = await self._send_create(self._url("/contents/generations/tasks"), body, self._headers())
        return task_id

    async def find_lost(self, lost: LostCreate, model: ModelEntry) -> str | None:
        """The task a lost create started: Ark's task list for this model (newest first, the last 7 days),
        the one created in the create's window with the same ratio, resolution and duration (tasks do
        not echo the prompt, and the create takes no client reference)."""
        self.require_credentials(model)
        spec, found = lost.spec, []
        for page_num in range(1, 5):
            query = {"page_num": str(page_num), "page_size": "500", "filter.model": self._wire_model(model)}
            page = await self._send_read("GET", self._url("/contents/generations/tasks"), self._headers(), params=query) or {}
            items = page.get("items") or []
            for task in items:
                if (lost.in_window(float(task.get("created_at") or 0)) and task.get("ratio") == spec.aspect_ratio
                        and task.get("resolution") == spec.resolution and task.get("duration") == round(spec.duration_s)):
                    found.append(str(task["id"]))
            if len(items) < 500 or float(items[-1].get("created_at") or 0) < lost.sent_after - 60:
                break
        return single_match(found, self.title)

    async def _read_job(self, remote_id: str, model: ModelEntry) -> dict[str, Any]:
        return await self._send_read("GET", self._url(f"/contents/generations/tasks/{remote_id}"), self._headers()) or {}

    def _status_word(self, job: dict[str, Any]) -> str:
        return str(job.get("status", ""))

    async def _parse_status(self, job: dict[str, Any], state: RemoteState, remote_id: str,
                            model: ModelEntry) -> RemoteStatus:
        content = job.get("content") if isinstance(job.get("content"), dict) else {}
        video, frame = content.get("video_url"), content.get("last_frame_url")
        return RemoteStatus(
            last_frame_url=frame if state is RemoteState.SUCCEEDED and isinstance(frame, str) and frame else None,
            state=state,
            output_urls=[video] if state is RemoteState.SUCCEEDED and isinstance(video, str) and video else [],
            error=task_failure(job) if state is RemoteState.FAILED else None,
            cost_usd=_cost(job, facts_of(model, SeedanceFacts)) if state is RemoteState.SUCCEEDED else None,
        )

    async def _cancel_request(self, remote_id: str, model: ModelEntry) -> None:
        """DELETE cancels a queued task; Ark refuses it for a running one, which then runs to its end."""
        try:
            await self._send_read("DELETE", self._url(f"/contents/generations/tasks/{remote_id}"), self._headers())
        except InvalidRequest as exc:
            log.info("seedance task %s could not be cancelled (only queued tasks can be; it runs on and is billed "
                     "if it succeeds): %s", remote_id, exc)

    def _error_map(self) -> ErrorMap:
        return seedance_error

    # --- helpers ------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.base_url("ARK_BASE_URL") + path

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential('ARK_API_KEY')}"}

    def _wire_model(self, model: ModelEntry) -> str:
        """BytePlus ids (`dreamina-...`) by default; Volcengine's own (`doubao-...`) on its China host."""
        if not _is_volcengine(self.base_url("ARK_BASE_URL")):
            return model.remote_name
        china = facts_of(model, SeedanceFacts).volcengine_id
        if china is None:
            raise UnsupportedParameter(f"{model.key} is not offered on Volcengine Ark (ARK_BASE_URL is the China host).",
                                       param="model", hint="Use seedance-2.0 or seedance-2.0-fast there.")
        return china


def _is_volcengine(base: str) -> bool:
    host = base.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    return host.endswith(".volces.com")


def _check_inputs(spec: GenerationSpec, model: ModelEntry, facts: SeedanceFacts, settings: Any) -> None:
    """Image roles as Ark allows them: first, first+last, or references alone; no video, no native extend."""
    if spec.video is not None:
        raise UnsupportedParameter(f"{model.key} takes no input video here; pass images.", param="video")
    if spec.continue_remote_id:
        raise UnsupportedParameter("Seedance has no native extend; extend uses the last frame.", param="continue_remote_id")
    if spec.last_frame is not None and spec.first_frame is None:
        raise UnsupportedParameter(f"{model.key} needs a first_frame when a last_frame is given.", param="first_frame")
    for param, ref in (("first_frame", spec.first_frame), ("last_frame", spec.last_frame)):
        if ref is not None and ref.kind == "url" and not (ref.url or "").startswith("https://"):
            raise UnsupportedParameter(f"Seedance fetches '{param}' only from https:// URLs; give one or a local file.",
                                       param=param)
    unknown = sorted(set(spec.extra) - set(OPTIONS))
    if unknown:
        raise UnsupportedParameter(f"{model.key} takes options {', '.join(OPTIONS)}; not {', '.join(unknown)}.",
                                   param=f"options.{unknown[0]}")
    if not isinstance(spec.extra.get("watermark", False), bool):
        raise InvalidRequest("options.watermark must be true or false.", param="options.watermark")
    if "reference_images" in spec.extra:
        _check_references(spec, model, facts, settings)


def _check_references(spec: GenerationSpec, model: ModelEntry, facts: SeedanceFacts, settings: Any) -> None:
    from reelforge.security import check_local_path

    where = "options.reference_images"
    refs = spec.extra.get("reference_images")
    if not isinstance(refs, list) or not refs or not all(isinstance(r, str) and r for r in refs):
        raise InvalidRequest(f"{where} must be a list of 1-{facts.max_reference_images} image paths or HTTPS URLs.",
                             param=where)
    if len(refs) > facts.max_reference_images:
        raise UnsupportedParameter(f"{model.key} takes at most {facts.max_reference_images} reference images.", param=where)
    if spec.first_frame is not None or spec.last_frame is not None:
        raise UnsupportedParameter("Seedance cannot mix reference images with first/last frames.", param=where)
    for i, raw in enumerate(refs):
        if raw.startswith("https://"):
            continue
        if "://" in raw:
            raise UnsupportedParameter(f"{where}[{i}] must be a local image or an https:// URL.", param=f"{where}[{i}]")
        path = check_local_path(raw, settings, param=f"{where}[{i}]")
        check_image_file(_file_ref(str(path)), param=f"{where}[{i}]")


def _references(spec: GenerationSpec) -> list[str]:
    refs = spec.extra.get("reference_images") or []
    return [str(r) for r in refs] if isinstance(refs, list) else []


def _file_ref(path: str) -> MediaRef:
    from reelforge.generation_spec import MediaRef

    return MediaRef(kind="file", path=path, mime="image/png")


def _image_item(url: str, role: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}, "role": role}


def _cost(task: dict[str, Any], facts: SeedanceFacts) -> float | None:
    """What Ark bills: `usage.completion_tokens` at the task's resolution's price per million."""
    usage = task.get("usage") if isinstance(task.get("usage"), dict) else {}
    tokens = usage.get("completion_tokens")
    price = facts.usd_per_million_tokens.get(str(task.get("resolution") or ""))
    if not isinstance(tokens, (int, float)) or price is None:
        return None
    return round(tokens * price / 1e6, 4)
