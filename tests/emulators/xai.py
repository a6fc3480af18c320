"""Loopback emulator of xAI's Grok Imagine video REST API (docs.x.ai video pages; field names and
enums as the xai-sdk 1.21 request protos carry them; statuses of the proto's DeferredStatus).

Speaks: bearer auth (no header: 401; a wrong key: 400 "Incorrect API key provided", as xAI does);
`POST /v1/videos/generations` and `POST /v1/videos/extensions` validated per model (durations,
aspect ratios, resolutions, `image`/`last_frame`/`reference_images` as `{url}` with https URLs or
base64 data URIs, reference mode not mixed with `image` and capped at 10 s, unknown fields refused
with 422 like a strict JSON deserializer) answering `{"request_id"}`; `GET /v1/videos/{id}`
going `pending` (with `progress`) -> `done` with `video: {url, duration, respect_moderation}`,
`model` and `usage.cost_in_usd_ticks`, or `failed` with `error: {code, message}`, or `expired`.
Errors are `{"code", "error"}`. xAI has no cancel endpoint and no list of requests.
"""

from __future__ import annotations

import re
from typing import Any

from .base import EmulatedJob, Emulator, Recorded, Reply

API_KEY = "xai-test-key-0123456789"
ASPECTS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3")
MODELS: dict[str, dict[str, Any]] = {
    "grok-imagine-video": {"resolutions": ("480p", "720p"), "usd": {"480p": 0.05, "720p": 0.07},
                           "last_frame": False, "needs_image": False, "extend": True},
    "grok-imagine-video-1.5": {"resolutions": ("480p", "720p", "1080p"),
                               "usd": {"480p": 0.08, "720p": 0.14, "1080p": 0.25},
                               "last_frame": True, "needs_image": True, "extend": False},
}
GENERATION_FIELDS = {"model", "prompt", "duration", "aspect_ratio", "resolution", "image", "last_frame",
                     "reference_images", "generate_audio", "video", "user", "storage_options"}
EXTENSION_FIELDS = {"model", "prompt", "duration", "video", "storage_options"}
IMAGE_MAX = 10 * 1024 * 1024
TICKS_PER_USD = 10**10


class BadArgument(Exception):
    """A semantic error: 400 `Client specified an invalid argument`."""


class BadShape(Exception):
    """A body that does not deserialize: 422."""


class XaiEmulator(Emulator):
    name = "xai"

    def __init__(self, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        #: Set to make the next finished job come back moderated (`respect_moderation: false`, no URL).
        self.moderate_next = False
        #: Set to make the next job expire instead of finishing.
        self.expire_next = False
        self.route("POST", r"/v1/videos/generations", "create", self._create)
        self.route("POST", r"/v1/videos/extensions", "extend", self._extend)
        self.route("GET", r"/v1/videos/(?P<id>[^/]+)", "poll", self._poll)

    # --- contract checks ----------------------------------------------------------------------

    def check_auth(self, req: Recorded) -> Reply | None:
        header = req.headers.get("authorization", "")
        if not header.startswith("Bearer ") or not header[7:]:
            return Reply(401, {"code": "Unauthenticated", "error": "No authorization header or an invalid "
                               "authorization token was provided."})
        given = header[7:]
        if given != self.api_key:
            masked = f"{given[:2]}***{given[-2:]}"
            return Reply(400, {"code": "Client specified an invalid argument", "error": f"Incorrect API key "
                               f"provided: {masked}. You can obtain an API key from https://console.x.ai."})
        return None

    def error_response(self, status: int, message: str) -> Reply:
        code = {400: "Client specified an invalid argument", 404: "Some requested entity was not found",
                422: "Unprocessable entity", 429: "Too many requests"}.get(status, "Internal error")
        return Reply(status, {"code": code, "error": message})

    # --- routes -------------------------------------------------------------------------------

    def _create(self, req: Recorded, match: re.Match[str]) -> Reply:
        try:
            body = self._object(req, GENERATION_FIELDS)
            rules = self._model(body)
            duration = self._generation(body, rules)
        except _Answer as answer:
            return answer.reply
        except BadShape as exc:
            return self.error_response(422, f"Failed to deserialize the JSON body into the target type: {exc}")
        except BadArgument as exc:
            return self.error_response(400, str(exc))
        return Reply(200, {"request_id": self._start(body, duration).id})

    def _extend(self, req: Recorded, match: re.Match[str]) -> Reply:
        try:
            body = self._object(req, EXTENSION_FIELDS)
            rules = self._model(body)
            if not rules["extend"]:
                raise BadArgument(f"Model `{body['model']}` does not support video extension.")
            self._prompt(body)
            duration = body.get("duration", 6)
            if not isinstance(duration, int) or isinstance(duration, bool):
                raise BadShape("duration: invalid type, expected u32")
            if not 2 <= duration <= 10:
                raise BadArgument("Invalid argument `duration`: an extension is 2-10 seconds.")
            source = self._source(body.get("video"))
        except _Answer as answer:
            return answer.reply
        except BadShape as exc:
            return self.error_response(422, f"Failed to deserialize the JSON body into the target type: {exc}")
        except BadArgument as exc:
            return self.error_response(400, str(exc))
        return Reply(200, {"request_id": self._start(body, source + duration, billed_s=duration).id})

    def _poll(self, req: Recorded, match: re.Match[str]) -> Reply:
        job = self.read_job(match["id"])
        if job is None:
            return self.error_response(404, f"Deferred request {match['id']} not found.")
        return Reply(200, self.video_json(job))

    # --- validation ---------------------------------------------------------------------------

    def _object(self, req: Recorded, allowed: set[str]) -> dict[str, Any]:
        try:
            body = req.json
        except ValueError as exc:
            raise BadShape("expected a JSON object") from exc
        if not isinstance(body, dict):
            raise BadShape("expected a JSON object")
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise BadShape(f"unknown field `{unknown[0]}`")
        return body

    def _model(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("model")
        if not isinstance(name, str):
            raise BadShape("missing field `model`")
        if name not in MODELS:
            raise _Answer(self.error_response(404, f"The model {name} does not exist or your team does not have "
                                                   "access to it."))
        return MODELS[name]

    def _prompt(self, body: dict[str, Any]) -> None:
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            raise BadShape("missing field `prompt`")
        if not prompt.strip() or len(prompt) > 4096:
            raise BadArgument("Invalid argument `prompt`: 1-4096 characters.")

    def _generation(self, body: dict[str, Any], rules: dict[str, Any]) -> int:
        self._prompt(body)
        duration = body.get("duration", 6)
        if not isinstance(duration, int) or isinstance(duration, bool):
            raise BadShape("duration: invalid type, expected u32")
        references = body.get("reference_images")
        if not 1 <= duration <= (10 if references else 15):
            raise BadArgument(f"Invalid argument `duration`: {duration} is out of range.")
        if body.get("aspect_ratio", "16:9") not in ASPECTS:
            raise BadArgument(f"Invalid argument `aspect_ratio`: {body.get('aspect_ratio')!r}.")
        if body.get("resolution", "480p") not in rules["resolutions"]:
            raise BadArgument(f"Invalid argument `resolution`: {body.get('model')} makes "
                              f"{', '.join(rules['resolutions'])}.")
        if "generate_audio" in body and not isinstance(body["generate_audio"], bool):
            raise BadShape("generate_audio: invalid type, expected a boolean")
        if "image" in body:
            self._image(body["image"], "image")
        if "last_frame" in body:
            if not rules["last_frame"]:
                raise BadArgument(f"Invalid argument `last_frame`: not supported for {body['model']}.")
            self._image(body["last_frame"], "last_frame")
        if references is not None:
            if "image" in body:
                raise BadArgument("Invalid argument `reference_images`: cannot be combined with `image`.")
            if not isinstance(references, list) or not 1 <= len(references) <= 7:
                raise BadArgument("Invalid argument `reference_images`: 1-7 images.")
            for item in references:
                self._image(item, "reference_images")
        if "video" in body:
            raise BadArgument("Invalid argument `video`: video editing is a separate endpoint.")
        if rules["needs_image"] and "image" not in body and not references:
            raise BadArgument(f"Invalid argument `image`: {body['model']} requires an input image.")
        return duration

    def _image(self, value: Any, field: str) -> None:
        if not isinstance(value, dict) or set(value) - {"url", "file_id"} or not isinstance(value.get("url"), str):
            raise BadShape(f"{field}: expected an object with `url`")
        url = value["url"]
        if url.startswith("data:"):
            head, _, payload = url.partition(",")
            if not re.fullmatch(r"data:image/(png|jpeg|webp);base64", head) or len(payload) * 3 // 4 > IMAGE_MAX:
                raise BadArgument(f"Invalid argument `{field}`: expected a base64 PNG, JPEG or WebP data URI.")
        elif not re.match(r"https://[a-z0-9.-]+\.[a-z]{2,}/", url):
            raise BadArgument(f"Invalid argument `{field}`: image URLs must be public https URLs.")

    def _source(self, value: Any) -> float:
        """The source video's length; this emulator resolves its own output links (and https URLs as 6 s)."""
        if not isinstance(value, dict) or not isinstance(value.get("url"), str):
            raise BadShape("video: expected an object with `url`")
        url = value["url"]
        own = re.match(re.escape(self.url) + r"/files/(?P<job>[^/?]+)\.mp4\?token=(?P<token>[^&]+)", url)
        if own:
            with self._lock:
                job = self.jobs.get(own["job"])
                valid = job is not None and self._tokens.get(own["token"]) == job.id
            if not valid or job is None:
                raise BadArgument("Invalid argument `video`: the video URL could not be fetched.")
            seconds = job.output_duration_s
        elif url.startswith("https://"):
            seconds = 6.0
        else:
            raise BadArgument("Invalid argument `video`: expected a public URL or a data URI.")
        if not 2 <= seconds <= 15:
            raise BadArgument(f"Invalid argument `video`: the input video must be 2-15 s long, not {seconds:g} s.")
        return seconds

    # --- jobs ---------------------------------------------------------------------------------

    def _start(self, body: dict[str, Any], output_s: float, billed_s: float | None = None) -> EmulatedJob:
        states = ["pending"] * self.steps + ["expired" if self.expire_next else "done"]
        self.expire_next = False
        job = self.new_job("extension" if "video" in body else "generation", body, states, output_s)
        rate = MODELS[body["model"]]["usd"][body.get("resolution", "480p")] if "video" not in body else 0.05
        job.request = {**body, "_usd": rate * (billed_s if billed_s is not None else output_s),
                       "_moderated": self.moderate_next}
        self.moderate_next = False
        return job

    def video_json(self, job: EmulatedJob) -> dict[str, Any]:
        """The deferred request's answer for its current state."""
        status = job.states[job.state_index]
        if status == "pending" or not job.finished:
            return {"status": "pending", "progress": int(job.progress * 100)}
        if status == "expired":
            return {"status": "expired"}
        usage = {"cost_in_usd_ticks": int(round(job.request["_usd"] * TICKS_PER_USD))}
        if job.failure:
            code, message = job.failure
            return {"status": "failed", "video": {"duration": 0, "respect_moderation": True}, "model": "",
                    "error": {"code": code, "message": message}}
        if job.request["_moderated"]:
            return {"status": "done", "video": {"duration": int(job.output_duration_s), "respect_moderation": False},
                    "model": job.request["model"], "usage": usage}
        return {"status": "done", "model": job.request["model"], "usage": usage,
                "video": {"url": self.output_url(job), "duration": int(job.output_duration_s),
                          "respect_moderation": True}}


class _Answer(Exception):
    """A finished error reply raised from inside validation."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply
