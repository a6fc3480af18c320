"""Kling direct API adapter: text2video, image2video and video-extend tasks, polled per endpoint.

Wire facts (Kling API docs as copied in public clients, `providers.md` §8): every request carries
`Authorization: Bearer <JWT>` signed with the key pair (`auth.py`); snake_case bodies with
`model_name`, `mode` std|pro (720p|1080p), `duration` as a *string* ("5", "10"), `aspect_ratio`
for text only (image-to-video follows the image); images as a URL or raw base64 *without* a
`data:` prefix; answers in the `{code, message, request_id, data}` envelope; tasks go
submitted -> processing -> succeed | failed with `task_result.videos[].url`. Kling has no cancel
endpoint and reports no progress figure; neither is invented here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from reelforge.errors import InvalidRequest, OutcomeUnknown, ProviderFailure, UnsupportedParameter
from reelforge.providers.base import LostCreate, RemoteProvider, RemoteState, RemoteStatus, creating_for
from reelforge.providers.declaration import facts_of
from reelforge.providers.http import DO_NOT_RESUBMIT, ErrorMap, send
from reelforge.providers.kling import DECLARATION
from reelforge.providers.kling import wire
from reelforge.providers.kling.auth import jwt_token
from reelforge.providers.kling.facts import KlingFacts

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.generation_spec import GenerationSpec, MediaRef

log = logging.getLogger(__name__)

#: Kling's image rules: JPG/PNG up to 10 MB, each side at least 300 px, aspect within 1:2.5..2.5:1.
MAX_IMAGE_BYTES = 10 * 1024 * 1024
IMAGE_MIMES = ("image/jpeg", "image/png")
MIN_IMAGE_SIDE = 300
MAX_IMAGE_ASPECT = 2.5


class KlingProvider(RemoteProvider):
    declaration = DECLARATION
    states = wire.STATES

    # --- rules -----------------------------------------------------------------------------------

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        """Refuse what Kling's per-model, per-mode, per-duration feature matrix forbids."""
        facts = facts_of(model, KlingFacts)
        res, seconds = spec.resolution.lower(), spec.duration_s
        if facts.modes and res not in facts.modes:
            raise UnsupportedParameter(f"{model.key} renders {', '.join(facts.modes)} only.", param="resolution")
        if spec.extra:
            raise UnsupportedParameter(f"Kling takes no extra options; got {', '.join(sorted(spec.extra))}.",
                                       param="options")
        if spec.continue_remote_id:
            self._check_extend(spec, model, facts)
            return spec, [f"{model.key} extends its own video natively (Kling video-extend)."]
        if spec.video is not None:
            raise UnsupportedParameter(f"{model.key} does not take a video input.", param="video")
        if spec.last_frame is not None:
            self._check_last_frame(spec, model, facts)
        if spec.camera_move:
            self._check_camera(spec, model, facts)
        if spec.audio:
            if facts.sound is None or not facts.sound.allows(res, seconds):
                where = facts.sound.describe() if facts.sound else "never"
                raise UnsupportedParameter(f"{model.key} generates sound only with {where}.", param="audio")
            if spec.last_frame is not None:
                raise UnsupportedParameter(f"{model.key} cannot add sound to a first+last frame clip.", param="audio")
        for param, ref in (("image", spec.first_frame), ("last_image", spec.last_frame)):
            if ref is not None and ref.kind == "file" and ref.path and _exists(ref):
                _check_image(ref, param)
        notes = []
        if spec.first_frame is not None:
            notes.append(f"Kling's image-to-video keeps the image's aspect ratio; aspect_ratio {spec.aspect_ratio} "
                         "is not sent.")
        return spec, notes

    @staticmethod
    def _check_extend(spec: GenerationSpec, model: ModelEntry, facts: KlingFacts) -> None:
        if not facts.native_extend:
            raise UnsupportedParameter(f"{model.key} videos cannot be extended natively by Kling; extend uses "
                                       "the last frame.", param="continue_remote_id")
        if spec.continue_direction != "forward":
            raise UnsupportedParameter("Kling's video-extend only continues forward.", param="direction")
        if spec.first_frame or spec.last_frame or spec.camera_move or spec.negative_prompt or spec.audio:
            raise UnsupportedParameter("Kling's video-extend takes only the source video and a prompt.",
                                       param="image" if spec.first_frame else "negative_prompt")
        if spec.duration_s != 5:
            raise UnsupportedParameter("Kling's video-extend adds about 4.5 s per request: use duration_s 5, and "
                                       "extend the result again for more.", param="duration_s")

    @staticmethod
    def _check_last_frame(spec: GenerationSpec, model: ModelEntry, facts: KlingFacts) -> None:
        if spec.first_frame is None:
            raise UnsupportedParameter("Kling needs a first frame (image) when an end frame is given.", param="image")
        rule = facts.last_frame
        if rule is None or not rule.allows(spec.resolution.lower(), spec.duration_s):
            where = rule.describe() if rule else "no settings (use kling-v2-1 or kling-v1-6 at 1080p)"
            raise UnsupportedParameter(f"{model.key} accepts an end frame (last_image) only with {where}.",
                                       param="last_image")
        if spec.camera_move:
            raise UnsupportedParameter("Kling does not combine an end frame with a camera move.", param="camera_move")

    @staticmethod
    def _check_camera(spec: GenerationSpec, model: ModelEntry, facts: KlingFacts) -> None:
        kind = "image" if spec.first_frame is not None else "text"
        rule = facts.camera.get(kind)
        if rule is None or not rule.allows(spec.resolution.lower(), spec.duration_s):
            where = rule.describe() if rule else f"no {kind}-to-video settings"
            raise UnsupportedParameter(f"{model.key} accepts camera_move only with {where}.", param="camera_move")
        if spec.camera_move not in wire.CAMERA and spec.camera_move not in wire.CAMERA_PRESETS:
            raise UnsupportedParameter(f"Kling has no camera move {spec.camera_move}.", param="camera_move")

    # --- wire ------------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.base_url("KLING_BASE_URL") + path

    def _headers(self) -> dict[str, str]:
        token = jwt_token(self.credential("KLING_ACCESS_KEY"), self.credential("KLING_SECRET_KEY"))
        return {"Authorization": f"Bearer {token}"}

    async def create_body(self, spec: GenerationSpec, model: ModelEntry) -> tuple[str, dict[str, Any]]:
        """(endpoint, JSON body) of the create request for `spec` (inputs read and encoded here)."""
        reference = {"external_task_id": job} if (job := creating_for.get()) else {}
        if spec.continue_remote_id:
            body: dict[str, Any] = {"video_id": await self._video_id(spec.continue_remote_id), **reference}
            if spec.prompt:
                body["prompt"] = spec.prompt
            return "video-extend", body
        facts = facts_of(model, KlingFacts)
        endpoint = "image2video" if spec.first_frame is not None else "text2video"
        # Our job id as Kling's external_task_id: a create whose answer is lost can be looked up by it.
        body = {"model_name": model.remote_name, **reference}
        if endpoint == "image2video":
            assert spec.first_frame is not None
            body["image"] = await self._image(spec.first_frame, "image")
            if spec.last_frame is not None:
                body["image_tail"] = await self._image(spec.last_frame, "last_image")
        if spec.prompt:
            body["prompt"] = spec.prompt
        if spec.negative_prompt:
            body["negative_prompt"] = spec.negative_prompt
        if facts.modes:
            body["mode"] = facts.modes[spec.resolution.lower()]
        if endpoint == "text2video":
            body["aspect_ratio"] = spec.aspect_ratio
        body["duration"] = f"{int(round(spec.duration_s))}"
        if facts.sound is not None:
            # Always explicit: sound changes the price, so the default must match the quote.
            body["sound"] = "on" if spec.audio else "off"
        if spec.camera_move:
            body["camera_control"] = wire.camera_control(spec.camera_move)
        return endpoint, body

    async def _image(self, ref: MediaRef, param: str) -> str:
        """A public URL as given; a local JPG/PNG as raw base64 (Kling refuses a `data:` prefix)."""
        if ref.kind == "url" and ref.url:
            return ref.url
        from reelforge.providers.input_files import base64_payload

        _check_image(ref, param)
        payload, _ = await base64_payload(ref, max_bytes=MAX_IMAGE_BYTES, param=param, provider=self.title)
        return payload

    async def _video_id(self, source_remote_id: str) -> str:
        """The `video_id` Kling's video-extend wants: the first video of the finished source task (a read)."""
        task = await self._read(source_remote_id)
        found = wire.videos(task)
        if task.get("task_status") != "succeed" or not found or not found[0].get("id"):
            raise InvalidRequest(f"Kling task {source_remote_id} has no finished video to extend.", param="source")
        return str(found[0]["id"])

    async def _create_request(self, spec: GenerationSpec, model: ModelEntry) -> str:
        """Send the one create request; return `<endpoint>:<task_id>`, the id every later read needs."""
        endpoint, body = await self.create_body(spec, model)
        response = await send(self.client, "POST", self._url(f"/v1/videos/{endpoint}"), headers=self._headers(),
                              json=body, retry_reads=False, expect_json=True, error_map=wire.kling_error,
                              provider=self.title, policy=self.retry)  # fmt: skip
        answer = response.json()
        code, message = wire.envelope_code(answer)
        if code:
            raise wire.code_error(code, message)  # Kling refused outright: no task exists
        data = answer.get("data") if isinstance(answer, dict) else None
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise OutcomeUnknown("Kling accepted the create request but its answer has no task_id, so the task "
                                 "cannot be followed (it may have been started and billed).", hint=DO_NOT_RESUBMIT)
        return wire.job_id(endpoint, task_id)

    async def find_lost(self, lost: LostCreate, model: ModelEntry) -> str | None:
        """The task a lost create started, read by the external_task_id it carried (our job id)."""
        endpoint = "video-extend" if lost.spec.continue_remote_id else (
            "image2video" if lost.spec.first_frame is not None else "text2video")
        try:
            task = await self._read(wire.job_id(endpoint, lost.job_id))
        except InvalidRequest as exc:
            if "1203" in str(exc):  # "task not found": the create never started one
                return None
            raise
        task_id = task.get("task_id")
        return wire.job_id(endpoint, str(task_id)) if task_id else None

    async def _read(self, remote_id: str) -> dict[str, Any]:
        endpoint, task_id = wire.split_job_id(remote_id)
        body = await self._send_read("GET", self._url(f"/v1/videos/{endpoint}/{task_id}"), self._headers()) or {}
        code, message = wire.envelope_code(body)
        if code:
            raise wire.code_error(code, message)
        data = body.get("data")
        if not isinstance(data, dict):
            raise ProviderFailure(f"Kling's answer for task {task_id} has no task data.")
        return data

    async def _read_job(self, remote_id: str, model: ModelEntry) -> dict[str, Any]:
        return await self._read(remote_id)

    def _status_word(self, job: dict[str, Any]) -> str:
        return str(job.get("task_status") or "")

    async def _parse_status(self, job: dict[str, Any], state: RemoteState, remote_id: str,
                            model: ModelEntry) -> RemoteStatus:
        return wire.task_status(job, state)

    def _error_map(self) -> ErrorMap:
        return wire.kling_error


def _exists(ref: MediaRef) -> bool:
    from pathlib import Path

    return Path(ref.path or "").exists()  # extend's last frame is extracted only when the job runs


def _check_image(ref: MediaRef, param: str) -> None:
    """Kling's image rules, checked on the local file before anything is sent."""
    from PIL import Image

    from reelforge.providers.input_files import check_kind

    mime = check_kind(ref, expected="image", param=param)
    if mime not in IMAGE_MIMES:
        raise InvalidRequest(f"Kling takes JPG or PNG for '{param}'; got {mime}.", param=param)
    with Image.open(ref.local_path) as im:
        width, height = im.size
    if min(width, height) < MIN_IMAGE_SIDE or max(width, height) > MAX_IMAGE_ASPECT * min(width, height):
        raise InvalidRequest(
            f"'{param}' is {width}x{height}; Kling needs each side at least {MIN_IMAGE_SIDE} px and an aspect "
            f"ratio between 1:{MAX_IMAGE_ASPECT:g} and {MAX_IMAGE_ASPECT:g}:1.", param=param,
        )
