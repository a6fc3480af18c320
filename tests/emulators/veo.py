"""Loopback emulator of Google Veo on the Gemini API (contract: google-genai 2.19.0 Gemini Developer API
converters and 3.6.1's operation/file readers; providers.md §7, providers-update.md).

Speaks: `x-goog-api-key` on every call (a wrong key is 400 INVALID_ARGUMENT with reason
API_KEY_INVALID, a missing one 403 PERMISSION_DENIED, as Google answers); `POST
/v1beta/models/{model}:predictLongRunning` with `{"instances": [{...}], "parameters": {...}}`
validated per model (unknown fields refused the way Google's JSON parser does, durations, aspect
ratios, resolutions, 8 s rules, last frame, reference images, extension of its own videos only);
an Operation `{"name": "models/{model}/operations/{id}"}`; `GET /v1beta/{name}` without `done`
until finished, then `done: true` with `response.generateVideoResponse.generatedSamples[].video.uri`
(an https://generativelanguage.googleapis.com file URI, as Google gives), with
`raiMediaFilteredCount` when filtered, or with `error: {code, message}`; the file download
`GET /v1beta/files/{id}:download?alt=media` needing the key; files deleted after `expire_outputs`;
per-model create limits answered 429 RESOURCE_EXHAUSTED with QuotaFailure and RetryInfo details;
errors as `{"error": {"code", "message", "status"}}`. There is no cancel route: the Gemini API has none.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
import time
from typing import Any

from .base import EmulatedJob, Emulator, Recorded, Reply, sample_mp4

API_KEY = "AIzaSy-test-veo-key-0123456789"
GOOGLE_HOST = "https://generativelanguage.googleapis.com"
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "UNAVAILABLE", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
_V31 = {"durations": [4, 6, 8], "aspects": ["16:9", "9:16"], "resolutions": ["720p", "1080p", "4k"],
        "eight_only": ["1080p", "4k"], "last_frame": True, "references": 3, "extend": True}
_V30 = {"durations": [8], "aspects": ["16:9", "9:16"], "resolutions": ["720p", "1080p"], "res_aspects": {"1080p": ["16:9"]}}
#: model -> rules (the Gemini API docs' per-model table as the emulator's copy of the contract)
MODELS: dict[str, dict[str, Any]] = {
    "veo-3.1-generate-preview": _V31, "veo-3.1-generate-001": _V31,
    "veo-3.1-fast-generate-preview": _V31, "veo-3.1-fast-generate-001": _V31,
    "veo-3.1-lite-generate-preview": {"durations": [4, 6, 8], "aspects": ["16:9", "9:16"], "resolutions": ["720p", "1080p"],
                                      "eight_only": ["1080p"]},
    "veo-3.0-generate-001": _V30, "veo-3.0-fast-generate-001": _V30,
    "veo-2.0-generate-001": {"durations": [5, 6, 7, 8], "aspects": ["16:9", "9:16"], "resolutions": None},
}
INSTANCE_FIELDS = {"prompt", "image", "lastFrame", "referenceImages", "video"}
PARAMETER_FIELDS = {"aspectRatio", "durationSeconds", "resolution", "personGeneration", "negativePrompt",
                    "enhancePrompt", "sampleCount"}
#: Fields Google's Gemini API knows but refuses (the SDK refuses them before sending).
NOT_ON_GEMINI_API = {"seed", "generateAudio", "fps", "storageUri", "compressionQuality", "pubsubTopic"}


class BadRequest(Exception):
    pass


class VeoEmulator(Emulator):
    name = "veo"

    def __init__(self, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        #: model -> creates allowed per rolling minute (Google's per-model RPM); None: unlimited.
        self.rpm: dict[str, int] = {}
        #: The window `rpm` counts over (Google's is a minute; tests shorten it).
        self.rpm_window_s = 60.0
        self._creates: dict[str, list[float]] = {}
        #: file id -> job id; a file removed here answers 404 (Google deletes files after 2 days).
        self.files: dict[str, str] = {}
        self._file_of: dict[str, str] = {}
        #: Finish the next job with its video removed by the safety filters.
        self.filter_next = False
        self._filtered: set[str] = set()
        self._rate_lock = threading.Lock()
        self.route("POST", r"/v1beta/models/(?P<model>[^/:]+):predictLongRunning", "create", self._create)
        self.route("GET", r"/v1beta/(?P<name>models/[^/]+/operations/[^/]+)", "poll", self._operation)
        self.route("GET", r"/v1beta/files/(?P<file>[a-z0-9]+):download", "download", self._download)

    # --- contract checks ----------------------------------------------------------------------

    def check_auth(self, req: Recorded) -> Reply | None:
        key = req.headers.get("x-goog-api-key")
        if not key:
            return self.error_response(403, "Method doesn't allow unregistered callers (callers without established "
                                            "identity). Please use API Key or other form of API consumer identity.")
        if key != self.api_key:
            reply = self.error_response(400, "API key not valid. Please pass a valid API key.")
            reply.body["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                               "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]
            return reply
        return None

    def error_response(self, status: int, message: str) -> Reply:
        return Reply(status, {"error": {"code": status, "message": message, "status": _STATUS.get(status, "UNKNOWN")}})

    def new_id(self) -> str:
        return secrets.token_hex(6)  # Google's operation and file ids are short lowercase tokens

    # --- routes -------------------------------------------------------------------------------

    def _create(self, req: Recorded, match: re.Match[str]) -> Reply:
        model = match["model"]
        rules = MODELS.get(model)
        if rules is None:
            return self.error_response(404, f"models/{model} is not found for API version v1beta, or is not "
                                            "supported for predictLongRunning.")
        try:
            body = req.json
        except ValueError:
            return self.error_response(400, "Invalid JSON payload received.")
        try:
            seconds = self._validate(model, rules, body)
        except BadRequest as exc:
            return self.error_response(400, str(exc))
        limited = self._rate_limited(model)
        if limited is not None:
            return limited
        states = ["running"] * self.steps + ["done"]
        job = self.new_job(model, body, states, seconds)
        if self.filter_next:
            self.filter_next = False
            self._filtered.add(job.id)
        return Reply(200, {"name": f"models/{model}/operations/{job.id}"})

    def _validate(self, model: str, rules: dict[str, Any], body: Any) -> float:
        if not isinstance(body, dict):
            raise BadRequest("Invalid JSON payload received.")
        _known(body, {"instances", "parameters"}, "")
        instances = body.get("instances")
        if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
            raise BadRequest("instances must hold exactly one instance.")
        inst, params = instances[0], body.get("parameters") or {}
        _known(inst, INSTANCE_FIELDS, "instances[0]")
        refused = sorted(NOT_ON_GEMINI_API & set(params))
        if refused:
            raise BadRequest(f"`{refused[0]}` isn't supported by this model.")
        _known(params, PARAMETER_FIELDS, "parameters")
        prompt = inst.get("prompt")
        if prompt is not None and (not isinstance(prompt, str) or len(re.findall(r"\w+|[^\w\s]", prompt)) > 1024):
            raise BadRequest("The prompt is longer than 1024 tokens.")
        if not prompt and "image" not in inst and "video" not in inst:
            raise BadRequest("A prompt or an image is required.")
        seconds = params.get("durationSeconds", 8)
        if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds not in rules["durations"]:
            raise BadRequest(f"durationSeconds must be one of {rules['durations']}.")
        aspect = params.get("aspectRatio", "16:9")
        if aspect not in rules["aspects"]:
            raise BadRequest(f"aspectRatio must be one of {', '.join(rules['aspects'])}.")
        resolution = params.get("resolution")
        if resolution is not None:
            if rules["resolutions"] is None or resolution not in rules["resolutions"]:
                raise BadRequest(f"resolution `{resolution}` isn't supported by this model.")
            if resolution in rules.get("eight_only", []) and seconds != 8:
                raise BadRequest(f"durationSeconds must be 8 for resolution {resolution}.")
            if aspect not in rules.get("res_aspects", {}).get(resolution, [aspect]):
                raise BadRequest(f"aspectRatio {aspect} isn't supported at resolution {resolution}.")
        if params.get("personGeneration", "allow_all").lower() not in ("allow_all", "allow_adult", "dont_allow"):
            raise BadRequest("personGeneration must be allow_all, allow_adult or dont_allow.")
        for field in ("image", "lastFrame"):
            if field in inst:
                _image(inst[field], f"instances[0].{field}")
        if "lastFrame" in inst and (not rules.get("last_frame") or "image" not in inst):
            raise BadRequest("lastFrame needs image, and a model that supports interpolation.")
        self._check_references(inst, rules, seconds)
        if "video" in inst:
            self._check_extension(inst["video"], rules, seconds, resolution)
        return float(seconds + 7 if "video" in inst else seconds)

    def _check_references(self, inst: dict[str, Any], rules: dict[str, Any], seconds: int) -> None:
        refs = inst.get("referenceImages")
        if refs is None:
            return
        if not rules.get("references") or not isinstance(refs, list) or not 1 <= len(refs) <= rules["references"]:
            raise BadRequest("referenceImages isn't supported by this model, or holds more than 3 images.")
        if "image" in inst or "lastFrame" in inst or seconds != 8:
            raise BadRequest("referenceImages cannot be combined with image or lastFrame and need durationSeconds 8.")
        for i, ref in enumerate(refs):
            if not isinstance(ref, dict) or str(ref.get("referenceType", "")).lower() != "asset":
                raise BadRequest(f"instances[0].referenceImages[{i}].referenceType must be asset.")
            _image(ref.get("image"), f"instances[0].referenceImages[{i}].image")

    def _check_extension(self, video: Any, rules: dict[str, Any], seconds: int, resolution: str | None) -> None:
        uri = video.get("uri") if isinstance(video, dict) else None
        name = re.search(r"files/([a-z0-9]+)", uri or "")
        if not rules.get("extend") or name is None or name.group(1) not in self.files:
            raise BadRequest("video must be a video generated by Veo (a files/ URI that still exists).")
        if seconds != 8 or resolution not in (None, "720p"):
            raise BadRequest("Video extension needs durationSeconds 8 and resolution 720p.")

    def _rate_limited(self, model: str) -> Reply | None:
        limit = self.rpm.get(model)
        if limit is None:
            return None
        now = time.monotonic()
        with self._rate_lock:
            recent = [t for t in self._creates.get(model, []) if now - t < self.rpm_window_s]
            if len(recent) >= limit:
                self._creates[model] = recent
                wait = int(self.rpm_window_s - (now - recent[0])) + 1 if recent else int(self.rpm_window_s)
                reply = self.error_response(429, "You exceeded your current quota, please check your plan and billing "
                                                 f"details. Please retry in {wait}s.")
                reply.body["error"]["details"] = [
                    {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
                        "quotaMetric": "generativelanguage.googleapis.com/predict_long_running_requests",
                        "quotaId": "PredictLongRunningRequestsPerMinutePerProjectPerModel",
                        "quotaDimensions": {"model": model}, "quotaValue": str(limit)}]},
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{wait}s"},
                ]
                return reply
            self._creates[model] = [*recent, now]
        return None

    def _operation(self, req: Recorded, match: re.Match[str]) -> Reply:
        model, _, op_id = match["name"].partition("/operations/")
        job = self.read_job(op_id)
        if job is None or f"models/{job.kind}" != model:
            return self.error_response(404, f"Operation {match['name']} not found.")
        return Reply(200, self.operation_json(job))

    def operation_json(self, job: EmulatedJob) -> dict[str, Any]:
        name = f"models/{job.kind}/operations/{job.id}"
        if not job.finished:
            return {"name": name}
        if job.failure:
            code, message = job.failure
            return {"name": name, "done": True, "error": {"code": int(code), "message": message}}
        generated: dict[str, Any]
        if job.id in self._filtered:
            generated = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [
                "Your video was filtered because it may violate our usage guidelines."]}
        else:
            with self._lock:
                if job.id not in self._file_of:  # made once; a deleted file stays deleted
                    self._file_of[job.id] = self.new_id()
                    self.files[self._file_of[job.id]] = job.id
                file_id = self._file_of[job.id]
            generated = {"generatedSamples": [{"video": {"uri": f"{GOOGLE_HOST}/v1beta/files/{file_id}:download?alt=media"}}]}
        return {"name": name, "done": True, "response": {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
            "generateVideoResponse": generated}}

    def _download(self, req: Recorded, match: re.Match[str]) -> Reply:
        # The base emulator skips auth for routes named "download"; Gemini files need the key.
        denied = self.check_auth(req)
        if denied is not None:
            return denied
        with self._lock:
            job = self.jobs.get(self.files.get(match["file"], ""))
        if job is None:
            return self.error_response(404, f"File files/{match['file']} not found.")
        if (req.query.get("alt") or [""])[0] != "media":
            return Reply(200, {"name": f"files/{match['file']}", "mimeType": "video/mp4"})
        return Reply(200, raw=sample_mp4(job.output_duration_s), headers={"Content-Type": "video/mp4"})

    def expire_outputs(self) -> None:
        """Delete every generated file (Google keeps them 2 days); the operations still name them."""
        with self._lock:
            self.files.clear()


def _known(obj: dict[str, Any], fields: set[str], where: str) -> None:
    """Google's JSON parser refuses a field the message type does not have."""
    for name in obj:
        if name not in fields:
            at = f"'{where}'" if where else "'<root>'"
            raise BadRequest(f'Invalid JSON payload received. Unknown name "{name}" at {at}: Cannot find field.')


def _image(image: Any, where: str) -> None:
    """Inline bytes as `{bytesBase64Encoded, mimeType}` or the REST docs' `{inlineData: {mimeType, data}}`."""
    if isinstance(image, dict) and isinstance(image.get("inlineData"), dict):
        image = {"bytesBase64Encoded": image["inlineData"].get("data"), "mimeType": image["inlineData"].get("mimeType")}
    if not isinstance(image, dict) or set(image) - {"bytesBase64Encoded", "mimeType"}:
        raise BadRequest(f"{where} must carry inline bytes (bytesBase64Encoded and mimeType); GCS URIs are not "
                         "supported on the Gemini API.")
    if image.get("mimeType") not in ("image/png", "image/jpeg", "image/webp"):
        raise BadRequest(f"{where}.mimeType must be image/png, image/jpeg or image/webp.")
    try:
        data = base64.b64decode(str(image.get("bytesBase64Encoded") or ""), validate=True)
    except ValueError:
        raise BadRequest(f"{where}.bytesBase64Encoded is not valid base64.") from None
    if not data:
        raise BadRequest(f"{where} is empty.")
