"""Google Veo through the Gemini API: `predictLongRunning` creates, operations polled until `done`.

Wire facts (google-genai 2.19.0 Gemini Developer API converters, `providers.md` §7; details in
`wire`): `x-goog-api-key` on every call; `POST {base}/v1beta/models/{model}:predictLongRunning`
answers an Operation whose `name` ("models/{model}/operations/{id}") is the job id; `GET
{base}/v1beta/{name}` until `done: true` with `error` or `response.generateVideoResponse`
(`generatedSamples[].video.uri`, or `raiMediaFilteredCount` when safety filters removed the video).
The video is a Gemini file, fetched like the SDK does: its name taken from the URI and downloaded
from the configured base URL with the same key, so the key never goes to another host. Google
deletes the file after 2 days. There is no cancel endpoint: a started job runs and is billed.

Images go inline as base64 (the Gemini API takes neither URLs nor GCS URIs). Reference images come
as `options.reference_images` (local paths, checked against the allowed input folders here, before
anything is sent). Native extension continues one of this provider's own earlier videos
(`continue_remote_id`): its operation is read for the video URI, sent as `instances[0].video`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from reelforge.errors import InvalidRequest, MissingCredentials, ProviderFailure, UnsupportedParameter
from reelforge.providers.base import RemoteProvider, RemoteState, RemoteStatus
from reelforge.providers.declaration import facts_of
from reelforge.providers.http import ErrorMap
from reelforge.providers.input_files import base64_payload, check_image_file, check_kind
from reelforge.providers.veo import DECLARATION
from reelforge.providers.veo.facts import VeoFacts
from reelforge.providers.veo.wire import (
    API_VERSION,
    file_name,
    filtered_error,
    operation_error,
    operation_word,
    samples,
    veo_error,
)

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.generation_spec import GenerationSpec, MediaRef

KEY_ENV, ALT_KEY_ENV, BASE_URL_ENV = "GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL"
#: Per inline image; the whole request must stay under the Gemini API's 20 MB inline limit [UNVERIFIED per image].
IMAGE_MAX_BYTES = 6 * 1024 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
OPTIONS = ("reference_images", "person_generation")
_OPERATION = re.compile(r"models/[A-Za-z0-9.\-]+/operations/[A-Za-z0-9_\-]+")
_STATES = {"running": RemoteState.RUNNING, "done": RemoteState.SUCCEEDED, "error": RemoteState.FAILED}


class VeoProvider(RemoteProvider):
    declaration = DECLARATION
    states = _STATES

    # --- request shaping ----------------------------------------------------------------------

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        """Refuse, before anything is sent, what this model's rules forbid beyond the catalog's checks."""
        facts = facts_of(model, VeoFacts)
        seconds = int(round(spec.duration_s))
        _check_options(spec, model, facts)
        if spec.extra.get("reference_images"):
            resolved = check_reference_paths(spec, self.settings)
            spec = spec.model_copy(update={"extra": {**spec.extra, "reference_images": resolved}})
        if spec.resolution in facts.eight_seconds_only and seconds != 8:
            raise UnsupportedParameter(f"{model.key} makes {spec.resolution} clips of 8 s only; use duration_s=8 "
                                       "or a lower resolution.", param="duration_s")
        allowed = facts.resolution_aspects.get(spec.resolution)
        if allowed and spec.aspect_ratio not in allowed:
            raise UnsupportedParameter(f"{model.key} makes {spec.resolution} only in {', '.join(allowed)}.",
                                       param="aspect_ratio")
        if spec.last_frame is not None and not facts.last_frame:
            raise UnsupportedParameter(f"{model.key} takes no last frame; use a Veo 3.1 model.", param="last_image")
        if facts.always_audio and spec.audio is False:
            raise UnsupportedParameter(
                f"{model.key} always generates audio on the Gemini API (it has no switch; the price includes it). "
                "For a silent clip use veo/veo-2.0-generate-001, or drop the audio track afterwards.", param="audio")
        for param, ref in (("image", spec.first_frame), ("last_image", spec.last_frame)):
            if ref is not None and ref.kind != "file":
                raise UnsupportedParameter(f"The Gemini API takes '{param}' only as inline bytes, not a URL: "
                                           "download the image and pass its local path.", param=param)
        if spec.video is not None:
            raise UnsupportedParameter("Veo on the Gemini API extends only its own videos (by job); it takes no "
                                       "input video file.", param="video")
        return spec, _extension_notes(spec, model, facts, seconds)

    async def _body(self, spec: GenerationSpec, model: ModelEntry) -> dict[str, Any]:
        facts = facts_of(model, VeoFacts)
        instance: dict[str, Any] = {}
        if spec.prompt:
            instance["prompt"] = spec.prompt
        if spec.first_frame is not None:
            instance["image"] = await self._image(spec.first_frame, "image")
        if spec.last_frame is not None:
            instance["lastFrame"] = await self._image(spec.last_frame, "last_image")
        # Checked again here: a spec read back from the ledger never went through `normalize` in this process.
        references = check_reference_paths(spec, self.settings) if spec.extra.get("reference_images") else []
        if references:
            instance["referenceImages"] = [
                {"image": await self._image(_file(path), f"options.reference_images[{i}]"), "referenceType": "asset"}
                for i, path in enumerate(references)
            ]
        if spec.continue_remote_id:
            instance["video"] = {"uri": await self._source_video(spec.continue_remote_id, model)}
        parameters: dict[str, Any] = {"aspectRatio": spec.aspect_ratio, "durationSeconds": int(round(spec.duration_s))}
        if facts.resolution_field:
            parameters["resolution"] = spec.resolution
        if spec.negative_prompt:
            parameters["negativePrompt"] = spec.negative_prompt
        if spec.extra.get("person_generation"):
            parameters["personGeneration"] = spec.extra["person_generation"]
        return {"instances": [instance], "parameters": parameters}

    async def _image(self, ref: MediaRef, param: str) -> dict[str, str]:
        """`{"bytesBase64Encoded", "mimeType"}`, the SDK's `_Image_to_mldev` shape."""
        check_kind(ref, expected="image", param=param)
        data, mime = await base64_payload(ref, max_bytes=IMAGE_MAX_BYTES, param=param, provider=self.title)
        if mime not in IMAGE_TYPES:
            raise InvalidRequest(f"'{param}' is {mime}; Veo takes PNG, JPEG or WebP images.", param=param)
        return {"bytesBase64Encoded": data, "mimeType": mime}

    async def _source_video(self, remote_id: str, model: ModelEntry) -> str:
        """The URI of the video an earlier Veo job made (a read, never billed)."""
        operation = await self._read_job(remote_id, model)
        uris, _ = samples(operation)
        if operation_word(operation) != "done" or not uris:
            raise InvalidRequest(f"The earlier Veo job {remote_id} has no finished video to extend (Google keeps "
                                 "videos for 2 days).", param="source")
        return uris[0]

    # --- the protocol hooks ------------------------------------------------------------------

    def require_credentials(self, model: ModelEntry | None = None) -> None:
        self._key()

    async def _create_request(self, spec: GenerationSpec, model: ModelEntry) -> str:
        """Read inputs (and, for an extension, the earlier job), then send the one create request."""
        body = await self._body(spec, model)
        url = f"{self._api()}/models/{model.remote_name}:predictLongRunning"
        name, _ = await self._send_create(url, body, self._headers(), id_field="name")
        return name

    async def _read_job(self, remote_id: str, model: ModelEntry) -> dict[str, Any]:
        if not _OPERATION.fullmatch(remote_id):
            raise InvalidRequest(f"'{remote_id}' is not a Veo operation name.", param="job_id")
        return await self._send_read("GET", f"{self._api()}/{remote_id}", self._headers()) or {}

    def _status_word(self, job: dict[str, Any]) -> str:
        return operation_word(job)

    async def _parse_status(self, job: dict[str, Any], state: RemoteState, remote_id: str,
                            model: ModelEntry) -> RemoteStatus:
        if state is RemoteState.FAILED:
            error = job.get("error") if isinstance(job.get("error"), dict) else {}
            return RemoteStatus(state, error=operation_error(error))
        if state is not RemoteState.SUCCEEDED:
            return RemoteStatus(state)
        uris, generated = samples(job)
        if not uris:
            if generated.get("raiMediaFilteredCount"):
                return RemoteStatus(RemoteState.FAILED, error=filtered_error(generated), raw_status="filtered")
            return RemoteStatus(RemoteState.FAILED, error=ProviderFailure("Google Veo finished the job without a video."))
        return RemoteStatus(state, output_urls=[self._download_url(uri) for uri in uris])

    def _error_map(self) -> ErrorMap:
        return veo_error

    def _download_headers(self) -> dict[str, str]:
        # Safe: every output URL is built on the configured base URL (`_download_url`).
        return self._headers()

    # --- helpers ------------------------------------------------------------------------------

    def _key(self) -> str:
        """GEMINI_API_KEY, else GOOGLE_API_KEY (both are the Gemini API key's official names)."""
        key = self.settings.key_for(KEY_ENV) or self.settings.key_for(ALT_KEY_ENV)
        if not key:
            missing = MissingCredentials(self.title, KEY_ENV)
            missing.hint = f"{ALT_KEY_ENV} is accepted too."
            raise missing
        return key

    def _headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self._key()}

    def _api(self) -> str:
        return f"{self.base_url(BASE_URL_ENV)}/{API_VERSION}"

    def _download_url(self, uri: str) -> str:
        """The SDK's download: the file's name from the URI, fetched from our own base URL."""
        name = file_name(uri)
        if name is None:
            raise ProviderFailure("Google Veo returned a video link that names no Gemini file.")
        return f"{self._api()}/files/{name}:download?alt=media"


def _file(path: object) -> MediaRef:
    from reelforge.generation_spec import MediaRef

    return MediaRef(kind="file", path=str(path), mime="image/png")


def _check_options(spec: GenerationSpec, model: ModelEntry, facts: VeoFacts) -> None:
    unknown = sorted(set(spec.extra) - set(OPTIONS))
    if unknown:
        raise UnsupportedParameter(f"{model.key} takes options {', '.join(OPTIONS)}; not {', '.join(unknown)}.",
                                   param=f"options.{unknown[0]}")
    person = spec.extra.get("person_generation")
    if person is not None and person not in facts.person_generation:
        raise UnsupportedParameter(f"options.person_generation must be one of {', '.join(facts.person_generation)}.",
                                   param="options.person_generation")
    references = spec.extra.get("reference_images")
    if references is None:
        return
    where = "options.reference_images"
    if not facts.max_reference_images:
        raise UnsupportedParameter(f"{model.key} takes no reference images; use a Veo 3.1 model.", param=where)
    if not isinstance(references, list) or not references or not all(isinstance(p, str) for p in references):
        raise InvalidRequest(f"{where} must be a list of 1-{facts.max_reference_images} image paths.", param=where)
    if len(references) > facts.max_reference_images:
        raise UnsupportedParameter(f"{model.key} takes at most {facts.max_reference_images} reference images.", param=where)
    if spec.first_frame is not None or spec.last_frame is not None:
        raise UnsupportedParameter("Reference images cannot be combined with image/last_image.", param=where)
    if int(round(spec.duration_s)) != 8:
        raise UnsupportedParameter(f"{model.key} makes clips from reference images at 8 s only.", param="duration_s")


def check_reference_paths(spec: GenerationSpec, settings: Any) -> list[str]:
    """Resolve `options.reference_images` inside the allowed input folders (they arrive past the studio's checks)."""
    from reelforge.security import check_local_path

    paths = []
    for i, raw in enumerate(spec.extra.get("reference_images") or []):  # type: ignore[union-attr]
        param = f"options.reference_images[{i}]"
        path = check_local_path(str(raw), settings, param=param)
        check_image_file(_file(path), param=param)
        paths.append(str(path))
    return paths


def _extension_notes(spec: GenerationSpec, model: ModelEntry, facts: VeoFacts, seconds: int) -> list[str]:
    if not spec.continue_remote_id:
        return []
    if not facts.native_extend:
        raise UnsupportedParameter(f"{model.key} cannot extend a video natively; use a Veo 3.1 model.",
                                   param="continue_remote_id")
    if spec.continue_direction != "forward":
        raise UnsupportedParameter("Veo extends forward only.", param="direction")
    if spec.resolution != "720p" or seconds != 8:
        raise UnsupportedParameter("Veo extends 720p videos, with duration_s=8 and resolution=720p.", param="resolution")
    return ["Veo's extension returns the whole video lengthened by 7 s (the source plus the new part)."]
