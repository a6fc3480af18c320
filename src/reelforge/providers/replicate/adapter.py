"""Replicate adapter, through the official `replicate` package, on reelforge's HTTP rules.

The SDK builds the bodies and paths (official models: `POST /v1/models/{owner}/{name}/predictions`;
community models pinned to a version: `POST /v1/predictions` with `version`), parses predictions
and files, and reads progress from the model's logs. Its HTTP goes through `_ReelforgeSdkClient`,
which routes every call into `providers/http.send`: so a create is sent exactly once (the SDK's own
retry transport is never built), reads and cancels are retried on 429/5xx with backoff and
`Retry-After`, problem-JSON errors are mapped here, and the shared pooled client is used.

Model facts are typed data rows (`ReplicateFacts` in `facts.py`): `endpoint` ("model" or
"version"), `version` (64-hex, for community models), `fields` (our parameter → the model's input
name), `frames` (frame-count field with `choices` or `min`/`max`, optionally an `enum` of values),
`fixed` inputs, `options` (extra inputs a caller may pass), `prefer_wait` (seconds).

Polls read the prediction JSON first and let the shared base judge its status word (an unknown
one is still running), then hand known ones to the SDK's `Prediction` for outputs and progress.
"""

from __future__ import annotations

import io
import logging
import re
from typing import TYPE_CHECKING, Any

import httpx
import replicate
from replicate.prediction import Prediction

from reelforge.errors import (
    AuthFailed,
    ContentRejected,
    InvalidRequest,
    OutcomeUnknown,
    ProviderFailure,
    ReelforgeError,
    UnsupportedParameter,
)
from reelforge.generation_spec import size_for
from reelforge.providers.base import LostCreate, RemoteProvider, RemoteState, RemoteStatus, iso_epoch, single_match
from reelforge.providers.declaration import facts_of
from reelforge.providers.http import ErrorMap, RetryPolicy, error_for_status, parse_retry_after, send
from reelforge.providers.replicate import DECLARATION
from reelforge.providers.replicate.facts import ReplicateFacts

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.generation_spec import GenerationSpec, MediaRef
    from reelforge.settings import Settings

log = logging.getLogger(__name__)

PROVIDER = "Replicate"
STATES = {
    "starting": RemoteState.QUEUED,
    "processing": RemoteState.RUNNING,
    "succeeded": RemoteState.SUCCEEDED,
    "failed": RemoteState.FAILED,
    "canceled": RemoteState.CANCELED,
}
#: Local inputs up to this size go inline as data URIs; larger ones through `POST /v1/files`.
MAX_DATA_URI_BYTES = 256 * 1024
#: Upload limit of Replicate's file API for one input.
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
#: Spec fields copied straight to a model input when the row names a field for them.
_PLAIN_FIELDS = ("negative_prompt", "seed", "aspect_ratio", "resolution", "fps", "width", "height")
_MODERATION_MARKERS = ("e005", "flagged as sensitive", "nsfw", "safety checker")


def _is_create(method: str, path: str) -> bool:
    """Creates are the only billed calls: prediction POSTs that are not cancels."""
    return method == "POST" and path.endswith("/predictions")


def _http_error(response: httpx.Response) -> ReelforgeError:
    """Map a problem-JSON answer (`{"type","title","status","detail"}`) onto our errors."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    detail = str(body.get("detail") or body.get("title") or "").strip()
    status = response.status_code
    if any(marker in detail.lower() for marker in _MODERATION_MARKERS):
        return _failure_error(detail)
    if status in (401, 403):
        return AuthFailed(f"Replicate refused the API token (HTTP {status}: {detail}).",
                          hint="Check REPLICATE_API_TOKEN (an r8_... token from replicate.com/account/api-tokens).")
    if status == 422:
        fields = [str(f.get("field", "")) for f in body.get("invalid_fields") or [] if isinstance(f, dict)]
        param = fields[0].removeprefix("input.") if fields else None
        return InvalidRequest(f"Replicate rejected the input: {detail}", param=param)
    if status == 404 and "/predictions/" in response.request.url.path:
        return ProviderFailure(f"Replicate no longer knows this prediction: {detail}",
                               hint="It may have been deleted; check replicate.com/predictions.")
    if status == 404:
        return InvalidRequest(f"Replicate does not know this model or version: {detail}", param="model",
                              hint="The catalog's version hash may be outdated; try another model.")
    return error_for_status(status, detail, provider=PROVIDER, retry_after=parse_retry_after(response.headers))


def _failure_error(message: str) -> ReelforgeError:
    """The error for a prediction that ended `failed`, from Replicate's error text."""
    text = message.strip()[:400] or "no reason given"
    if any(marker in text.lower() for marker in _MODERATION_MARKERS):
        return ContentRejected(f"Replicate's safety filter rejected the input or output: {text}",
                               hint="Rephrase the prompt or use another image.")
    return ProviderFailure(f"The Replicate prediction failed: {text}")


class _ReelforgeSdkClient(replicate.Client):
    """The official client with its one HTTP seam (`_async_request`) routed through reelforge's layer."""

    def __init__(self, provider: ReplicateProvider) -> None:
        super().__init__(api_token=None, base_url=provider.base_url("REPLICATE_BASE_URL"))
        self._provider = provider

    async def _async_request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await self._provider.request(method, path, **kwargs)


class ReplicateProvider(RemoteProvider):
    """Video models hosted on Replicate (official by owner/name, community pinned by version)."""

    declaration = DECLARATION
    states = STATES

    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None, *,
                 retry: RetryPolicy | None = None) -> None:
        super().__init__(settings, http, retry=retry)
        self.sdk = _ReelforgeSdkClient(self)

    # --- HTTP ------------------------------------------------------------------------------------

    async def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                      timeout: httpx.Timeout | None = None, **kwargs: Any) -> httpx.Response:
        """One SDK call: a create is sent once; anything else is retried per the shared policy.

        The SDK's `timeout` is dropped on purpose: for `Prefer: wait=n` it allows only n + 0.5 s to
        read, so a server that holds a little past n would turn a good create into an unknown
        outcome. The shared client's timeouts (60 s read) cover any short wait.
        """
        url = self.base_url("REPLICATE_BASE_URL") + path
        all_headers = {"Authorization": f"Bearer {self.credential('REPLICATE_API_TOKEN')}", **(headers or {})}
        return await send(
            self.client, method, url, headers=all_headers, retry_reads=not _is_create(method, path),
            error_map=self._error_map(), provider=PROVIDER, policy=self.retry, expect_json=True, **kwargs,
        )

    # --- rules -----------------------------------------------------------------------------------

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        """Refuse what the model has no input for, and snap the duration to a frame count it takes."""
        facts = facts_of(model, ReplicateFacts)
        if spec.prompt and "prompt" not in facts.fields:
            raise UnsupportedParameter(f"{model.key} takes no prompt (image only); leave prompt empty.", param="prompt")
        if spec.camera_move:
            raise UnsupportedParameter(f"{model.key} accepts no camera_move; describe the motion in the prompt.",
                                       param="camera_move")
        allowed = facts.options
        unknown = sorted(set(spec.extra) - set(allowed))
        if unknown:
            raise UnsupportedParameter(
                f"{model.key} does not accept options {', '.join(unknown)}; it accepts "
                f"{', '.join(allowed) or 'no extra options'}.", param="options",
            )
        spec, notes = _snap_size(spec, model)
        spec, frame_notes = _snap_frames(spec, model)
        return spec, notes + frame_notes

    # --- submit / poll / cancel ------------------------------------------------------------------

    async def build_input(self, spec: GenerationSpec, model: ModelEntry) -> dict[str, Any]:
        """The model's `input` object for `spec` (local files inlined or uploaded here, before the create)."""
        facts = facts_of(model, ReplicateFacts)
        fields = facts.fields
        inputs: dict[str, Any] = dict(facts.fixed)
        if spec.prompt and "prompt" in fields:
            inputs[fields["prompt"]] = spec.prompt
        for name in _PLAIN_FIELDS:
            value = getattr(spec, name)
            if name in fields and value is not None:
                inputs[fields[name]] = value
        if "duration" in fields:
            inputs[fields["duration"]] = int(round(spec.duration_s))
        if facts.frames is not None:
            inputs[facts.frames.field] = facts.frames.enum.get(str(spec.frame_count), spec.frame_count)
        for ref, name, param in ((spec.first_frame, "first_frame", "image"), (spec.last_frame, "last_frame", "last_image")):
            if ref is not None and name in fields:
                inputs[fields[name]] = await self._file_input(ref, param)
        inputs.update(spec.extra)
        return inputs

    async def _file_input(self, ref: MediaRef, param: str) -> str:
        """A public URL as is; a small local file as a data URI; a larger one uploaded to Replicate's files."""
        if ref.kind == "url" and ref.url:
            return ref.url
        from reelforge.providers.input_files import check_kind, data_uri, input_size

        mime = check_kind(ref, expected="image", param=param)
        size = input_size(ref, param=param)
        if size <= MAX_DATA_URI_BYTES:
            return await data_uri(ref, max_bytes=MAX_DATA_URI_BYTES, param=param, provider=PROVIDER)
        if size > MAX_UPLOAD_BYTES:
            raise InvalidRequest(f"The file for '{param}' is {size / 1e6:.0f} MB; Replicate takes at most "
                                 f"{MAX_UPLOAD_BYTES >> 20} MB.", param=param)
        data = ref.local_path.read_bytes()
        uploaded = await self.sdk.files.async_create(io.BytesIO(data), filename=ref.local_path.name, content_type=mime)
        log.info("uploaded %s (%d bytes) to Replicate files as %s", ref.local_path.name, size, uploaded.id)
        return uploaded.urls["get"]

    async def _create_request(self, spec: GenerationSpec, model: ModelEntry) -> str:
        """Send the one create request (with a short `Prefer: wait`); return the prediction id."""
        facts = facts_of(model, ReplicateFacts)
        inputs = await self.build_input(spec, model)
        try:
            if facts.endpoint == "version":
                prediction = await self.sdk.predictions.async_create(
                    version=str(facts.version), input=inputs, wait=facts.prefer_wait)
            else:
                prediction = await self.sdk.models.predictions.async_create(
                    model=model.remote_name, input=inputs, wait=facts.prefer_wait)
        except (TypeError, ValueError, KeyError) as exc:  # the SDK could not parse a 2xx answer
            raise OutcomeUnknown(
                f"Replicate answered the create request with a prediction that could not be read ({type(exc).__name__}), "
                "so its id is unknown (it may have started and be billed).",
                hint="Do not submit again: check replicate.com/predictions first.",
            ) from None
        log.info("Replicate prediction %s is %s", prediction.id, prediction.status)
        return prediction.id

    async def find_lost(self, lost: LostCreate, model: ModelEntry) -> str | None:
        """The prediction a lost create started: `GET /v1/predictions` (newest first, by cursor), the one
        of this model or version with this prompt created in the create's window."""
        self.require_credentials(model)
        facts = facts_of(model, ReplicateFacts)
        wanted_prompt = lost.spec.prompt or None
        found: list[str] = []
        path: str | None = "/v1/predictions"
        for _ in range(20):  # 2,000 predictions back at most
            if path is None:
                break
            page = (await self.request("GET", path)).json()
            results = page.get("results") or [] if isinstance(page, dict) else []
            for item in results:
                created = iso_epoch(item.get("created_at"))
                same_model = item.get("model") == model.remote_name or (
                    facts.version is not None and item.get("version") == facts.version)
                prompt = (item.get("input") or {}).get("prompt") or None
                if created is not None and lost.in_window(created) and same_model and prompt == wanted_prompt:
                    found.append(str(item["id"]))
            oldest = iso_epoch(results[-1].get("created_at")) if results else None
            if oldest is not None and oldest < lost.sent_after - 60:
                break
            nxt = page.get("next") if isinstance(page, dict) else None
            path = nxt[nxt.index("/v1/"):] if nxt and "/v1/" in nxt else None  # the cursor URL, on our base
        return single_match(found, self.title)

    async def _read_job(self, remote_id: str, model: ModelEntry) -> dict[str, Any]:
        """The prediction's JSON (the SDK's own read, with its parse left to `_parse_status`)."""
        body = (await self.request("GET", f"/v1/predictions/{remote_id}")).json()
        if not isinstance(body, dict):
            raise ProviderFailure(f"Replicate returned an unreadable prediction for {remote_id} "
                                  f"({type(body).__name__}). Try get_job again later.")
        return body

    def _status_word(self, job: dict[str, Any]) -> str:
        return str(job.get("status") or "")

    async def _parse_status(self, job: dict[str, Any], state: RemoteState, remote_id: str,
                            model: ModelEntry) -> RemoteStatus:
        """Outputs and progress through the SDK's `Prediction` (progress from the model's log lines)."""
        try:
            prediction = Prediction(**job)
        except (TypeError, ValueError) as exc:  # a known status, but not a prediction the SDK can read
            raise ProviderFailure(f"Replicate returned an unreadable prediction for {remote_id} "
                                  f"({type(exc).__name__}). Try get_job again later.") from None
        progress = prediction.progress.percentage if prediction.progress is not None else None
        if state is RemoteState.FAILED:
            return RemoteStatus(state, error=_failure_error(prediction.error or ""))
        if state is RemoteState.SUCCEEDED:
            urls = _output_urls(prediction.output)
            if not urls:
                return RemoteStatus(RemoteState.FAILED, raw_status=prediction.status,
                                    error=ProviderFailure("Replicate reported success but the output has no file URL."))
            return RemoteStatus(state, progress=1.0, output_urls=urls)
        return RemoteStatus(state, progress=progress)

    async def _cancel_request(self, remote_id: str, model: ModelEntry) -> None:
        """Ask Replicate to stop the prediction (safe to repeat; a finished one stays as it is)."""
        prediction = await self.sdk.predictions.async_cancel(remote_id)
        log.info("Replicate prediction %s is now %s", remote_id, prediction.status)

    def _error_map(self) -> ErrorMap:
        return _http_error

    async def aclose(self) -> None:
        """Nothing to close: the SDK's own HTTP clients are never built (all calls go through `request`)."""


def _output_urls(output: Any) -> list[str]:
    """Output URLs from a model's output (a URL string or a list of them), video files first.

    Some models list a preview image or a GIF beside the video; the download takes the first URL.
    """
    items = output if isinstance(output, list) else [output]
    urls = [item for item in items if isinstance(item, str) and item.startswith(("http://", "https://"))]
    return sorted(urls, key=lambda url: not httpx.URL(url).path.lower().endswith((".mp4", ".webm", ".mov")))


def _snap_size(spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
    """For models that take width/height: the exact size of the resolution name ('576p' at 16:9 = 1024x576)."""
    fields = facts_of(model, ReplicateFacts).fields
    match = re.fullmatch(r"(\d+)p", spec.resolution.lower())
    if "width" not in fields or match is None:
        return spec, []
    width, height = size_for(spec.aspect_ratio, int(match[1]), multiple=8)
    if (width, height) == (spec.width, spec.height):
        return spec, []
    note = f"size {spec.width}x{spec.height} -> {width}x{height} ({spec.resolution} at {spec.aspect_ratio} for {model.key})."
    return spec.model_copy(update={"width": width, "height": height}), [note]


def _snap_frames(spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
    """Move the duration to the nearest frame count the model takes, with a note saying so."""
    rule = facts_of(model, ReplicateFacts).frames
    if rule is None:
        return spec, []
    wanted = spec.frame_count
    if rule.choices is not None:
        frames = min(rule.choices, key=lambda n: (abs(n - wanted), n))
    else:
        assert rule.min is not None and rule.max is not None  # FrameRule validates one form or the other
        frames = max(rule.min, min(rule.max, wanted))
    if frames == wanted and abs(frames / spec.fps - spec.duration_s) < 1e-9:
        return spec, []
    seconds = frames / spec.fps
    note = f"duration {spec.duration_s:g} s -> {frames} frames at {spec.fps} fps = {seconds:.2f} s ({model.key} takes whole frame counts)."
    return spec.model_copy(update={"duration_s": seconds}), [note]
