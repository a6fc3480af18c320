"""xAI Grok Imagine video adapter: REST deferred requests, polled at `GET /v1/videos/{request_id}`.

Wire facts (docs.x.ai video pages, checked field by field against the request objects the official
xai-sdk 1.21 builds: the SDK itself speaks gRPC, `xai_api.Video/GenerateVideo|ExtendVideo|
GetDeferredVideo`): bearer key; `POST /v1/videos/generations` with snake_case `prompt`, `model`,
`duration` (whole seconds), `aspect_ratio` ("16:9"), `resolution` ("720p"), `image: {url}` (first
frame: an https URL or a base64 data URI), `last_frame: {url}` (1.5), `reference_images: [{url}]`
(reference-to-video, not with `image`), `generate_audio`; answers `{"request_id"}`.
`POST /v1/videos/extensions` (`prompt`, `model`, `duration` of the new part, `video: {url}`)
continues a video and returns the whole lengthened clip; here it extends one of this provider's
own jobs (`continue_remote_id`), whose finished video URL is read first (a read, never billed).
There is no cancel and no job list: a started request runs on, and is billed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reelforge.errors import InvalidRequest, UnsupportedParameter
from reelforge.providers.base import RemoteProvider, RemoteState, RemoteStatus
from reelforge.providers.declaration import facts_of
from reelforge.providers.http import ErrorMap
from reelforge.providers.input_files import check_image_file, check_kind, data_uri
from reelforge.providers.xai import DECLARATION
from reelforge.providers.xai.facts import XaiFacts
from reelforge.providers.xai.wire import STATES, job_status, xai_error

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.generation_spec import GenerationSpec, MediaRef

KEY_ENV, BASE_URL_ENV = "XAI_API_KEY", "XAI_BASE_URL"
#: Per inline image as a data URI [UNVERIFIED: xAI documents no figure for video inputs; its image
#: understanding takes up to 20 MiB per image].
IMAGE_MAX_BYTES = 10 * 1024 * 1024
OPTIONS = ("reference_images",)
REFS = "options.reference_images"


class XaiProvider(RemoteProvider):
    declaration = DECLARATION
    states = STATES

    # --- request shaping ----------------------------------------------------------------------

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        """Refuse, before anything is sent, what this model's rules forbid beyond the catalog's checks."""
        facts = facts_of(model, XaiFacts)
        unknown = sorted(set(spec.extra) - set(OPTIONS))
        if unknown:
            raise UnsupportedParameter(f"{model.key} takes options {', '.join(OPTIONS)}; not {', '.join(unknown)}.",
                                       param=f"options.{unknown[0]}")
        if spec.video is not None:
            raise UnsupportedParameter(f"{model.key} takes no input video here; extend_video continues one of its "
                                       "own clips.", param="video")
        if spec.duration_s != int(spec.duration_s):
            raise UnsupportedParameter("xAI takes whole seconds for duration_s.", param="duration_s")
        if spec.continue_remote_id:
            return spec, _extension_notes(spec, model, facts)
        references = self._references(spec, model, facts)
        if spec.last_frame is not None and not facts.last_frame:
            raise UnsupportedParameter(f"{model.key} takes no last frame; use xai/grok-imagine-video-1.5.",
                                       param="last_image")
        if facts.needs_image and spec.first_frame is None and not references:
            raise UnsupportedParameter(f"{model.key} animates images and makes nothing from text alone: give image "
                                       f"(a first frame) or {REFS}.", param="image")
        for param, ref in (("image", spec.first_frame), ("last_image", spec.last_frame)):
            if ref is not None and ref.kind == "url" and not (ref.url or "").startswith("https://"):
                raise UnsupportedParameter(f"xAI fetches '{param}' only from https:// URLs; give an HTTPS URL or a "
                                           "local file.", param=param)
        if references:
            spec = spec.model_copy(update={"extra": {**spec.extra, "reference_images": references}})
        return spec, []

    def _references(self, spec: GenerationSpec, model: ModelEntry, facts: XaiFacts) -> list[str]:
        """`options.reference_images`: local image paths inside the allowed folders, resolved."""
        from reelforge.generation_spec import MediaRef
        from reelforge.security import check_local_path

        raw = spec.extra.get("reference_images")
        if raw is None:
            return []
        if not facts.max_reference_images:
            raise UnsupportedParameter(f"{model.key} takes no reference images.", param=REFS)
        if not isinstance(raw, list) or not raw or not all(isinstance(p, str) for p in raw):
            raise InvalidRequest(f"{REFS} must be a list of 1-{facts.max_reference_images} image paths.", param=REFS)
        if len(raw) > facts.max_reference_images:
            raise UnsupportedParameter(f"{model.key} takes at most {facts.max_reference_images} reference images.",
                                       param=REFS)
        if spec.first_frame is not None or spec.last_frame is not None:
            raise UnsupportedParameter("xAI makes a clip from reference images or from a first frame, not both: "
                                       f"drop image/last_image or {REFS}.", param=REFS)
        if spec.duration_s > facts.reference_max_seconds:
            raise UnsupportedParameter(f"{model.key} makes clips from reference images of at most "
                                       f"{facts.reference_max_seconds:g} s.", param="duration_s")
        paths = []
        for i, value in enumerate(raw):
            path = check_local_path(value, self.settings, param=f"{REFS}[{i}]")
            check_image_file(MediaRef(kind="file", path=str(path), mime="image/png"), param=f"{REFS}[{i}]")
            paths.append(str(path))
        return paths

    async def _body(self, spec: GenerationSpec, model: ModelEntry) -> dict[str, Any]:
        body: dict[str, Any] = {"model": model.remote_name, "prompt": spec.prompt,
                                "duration": int(spec.duration_s), "aspect_ratio": spec.aspect_ratio,
                                "resolution": spec.resolution}
        if spec.first_frame is not None:
            body["image"] = {"url": await self._image(spec.first_frame, "image")}
        if spec.last_frame is not None:
            body["last_frame"] = {"url": await self._image(spec.last_frame, "last_image")}
        # Checked again here: a spec read back from the ledger never went through `normalize` in this process.
        references = self._references(spec, model, facts_of(model, XaiFacts))
        if references:
            body["reference_images"] = [{"url": await self._image(_file(path), f"{REFS}[{i}]")}
                                        for i, path in enumerate(references)]
        if spec.audio is not None:  # xAI's default is a clip with audio; the price is the same either way
            body["generate_audio"] = bool(spec.audio)
        return body

    async def _extension_body(self, spec: GenerationSpec, model: ModelEntry) -> dict[str, Any]:
        assert spec.continue_remote_id is not None
        source = await self._source_video(spec.continue_remote_id, model)
        return {"model": model.remote_name, "prompt": spec.prompt, "duration": int(spec.duration_s),
                "video": {"url": source}}

    async def _image(self, ref: MediaRef, param: str) -> str:
        """An https URL as given, or a local image inline as a base64 data URI."""
        check_kind(ref, expected="image", param=param)
        if ref.kind == "url":
            assert ref.url is not None
            return ref.url
        return await data_uri(ref, max_bytes=IMAGE_MAX_BYTES, param=param, provider=self.title)

    async def _source_video(self, remote_id: str, model: ModelEntry) -> str:
        """The URL of the video an earlier xAI request made (links are temporary: the SDK says 24 h)."""
        job = await self._read_job(remote_id, model)
        video = job.get("video") if isinstance(job.get("video"), dict) else {}
        if job.get("status") != "done" or not video.get("url"):
            raise InvalidRequest(f"The earlier xAI request {remote_id} has no finished video to extend (xAI keeps "
                                 "generated videos for a limited time).", param="source")
        return str(video["url"])

    # --- the protocol hooks ------------------------------------------------------------------

    async def _create_request(self, spec: GenerationSpec, model: ModelEntry) -> str:
        """Read inputs (and, for an extension, the earlier job), then send the one create request."""
        if spec.continue_remote_id:
            url, body = self._url("/videos/extensions"), await self._extension_body(spec, model)
        else:
            url, body = self._url("/videos/generations"), await self._body(spec, model)
        request_id, _ = await self._send_create(url, body, self._headers(), id_field="request_id")
        return request_id

    async def _read_job(self, remote_id: str, model: ModelEntry) -> dict[str, Any]:
        return await self._send_read("GET", self._url(f"/videos/{remote_id}"), self._headers()) or {}

    def _status_word(self, job: dict[str, Any]) -> str:
        return str(job.get("status", ""))

    async def _parse_status(self, job: dict[str, Any], state: RemoteState, remote_id: str,
                            model: ModelEntry) -> RemoteStatus:
        return job_status(job, state)

    def _error_map(self) -> ErrorMap:
        return xai_error

    # --- helpers ------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.base_url(BASE_URL_ENV) + path

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential(KEY_ENV)}"}


def _extension_notes(spec: GenerationSpec, model: ModelEntry, facts: XaiFacts) -> list[str]:
    if not facts.native_extend:
        raise UnsupportedParameter(f"{model.key} cannot extend a video natively; use xai/grok-imagine-video.",
                                   param="continue_remote_id")
    if spec.continue_direction != "forward":
        raise UnsupportedParameter("xAI extends forward only.", param="direction")
    low, high = facts.extend_seconds
    if not low <= spec.duration_s <= high:
        raise UnsupportedParameter(f"xAI extends by {low:g}-{high:g} s (duration_s is the new part's length).",
                                   param="duration_s")
    if spec.first_frame is not None or spec.last_frame is not None or spec.extra:
        raise UnsupportedParameter("An xAI extension takes only a prompt and duration_s.", param="image")
    return [f"xAI extends the earlier video by {spec.duration_s:g} s and returns the whole, lengthened clip "
            "(its source must be 2-15 s long)."]


def _file(path: str) -> MediaRef:
    from reelforge.generation_spec import MediaRef

    return MediaRef(kind="file", path=path, mime="image/png")
