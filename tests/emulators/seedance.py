"""Loopback emulator of Seedance on BytePlus ModelArk / Volcengine Ark (`/api/v3/contents/generations/tasks`).

Contract: the official SDK byteplus-python-sdk-v2 3.0.63 (`byteplussdkarkruntime`: `tasks.create/get/
list/delete`, its `ContentGenerationTask` and `ListContentGenerationTasksResponse` types, and its
error parsing of `{"error": {"code", "message", "param", "type"}}`), plus `providers-update.md` and
third-party copies of the Ark docs for what the SDK does not show (marked [3P] below).

Speaks: bearer `ARK_API_KEY`; create bodies validated per model (content item types and image
roles: first_frame, first+last, or reference images alone; ratio, resolution, integer duration,
seed range, booleans, unknown fields refused; Seedance's prompt flags `--rs/--rt/--dur/...` read like
fields and refused when they contradict one); `{"id": "cgt-..."}` on create; tasks queued -> running
-> succeeded with `content.video_url` (a signed link, re-signed on each read, cleared by
`purge_outputs` as after 24 h) and `usage.completion_tokens` = width x height x 24 x seconds / 1024, or
failed with `error: {code, message}`; DELETE cancels a queued task, deletes a finished task's record,
and is refused for a running one [3P; code unverified]; the list endpoint with `page_num`,
`page_size`, `filter.status`, `filter.task_ids` (repeated), `filter.model`, `filter.service_tier`,
newest first, last 7 days [3P].
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from typing import Any

from .base import EmulatedJob, Emulator, Recorded, Reply

API_KEY = "ark-test-0c1d2e3f-seedance"
TASKS = "/api/v3/contents/generations/tasks"
# Seedance's rendered sizes per resolution and ratio (the runwayml SDK's seedance2 `ratio` literals).
SIZES = {
    "480p": {"21:9": (992, 432), "16:9": (864, 496), "4:3": (752, 560), "1:1": (640, 640), "3:4": (560, 752), "9:16": (496, 864)},
    "720p": {"21:9": (1470, 630), "16:9": (1280, 720), "4:3": (1112, 834), "1:1": (960, 960), "3:4": (834, 1112), "9:16": (720, 1280)},
    "1080p": {"21:9": (2206, 946), "16:9": (1920, 1080), "4:3": (1664, 1248), "1:1": (1440, 1440), "3:4": (1248, 1664), "9:16": (1080, 1920)},
}  # fmt: skip
_V2 = {"durations": range(4, 16), "resolutions": ("480p", "720p", "1080p"), "max_images": 9}
_FAST = {**_V2, "resolutions": ("480p", "720p")}
MODELS: dict[str, dict[str, Any]] = {
    "dreamina-seedance-2-0-260128": _V2, "doubao-seedance-2-0-260128": _V2,
    "dreamina-seedance-2-0-fast-260128": _FAST, "doubao-seedance-2-0-fast-260128": _FAST,
    "dreamina-seedance-2-5-260628": {**_FAST, "durations": range(4, 31)},
}  # fmt: skip
RATIOS = ("16:9", "4:3", "1:1", "3:4", "9:16", "21:9", "adaptive")
FIELDS = {
    "model", "content", "safety_identifier", "callback_url", "return_last_frame", "service_tier",
    "execution_expires_after", "priority", "generate_audio", "draft", "camera_fixed", "watermark", "seed",
    "resolution", "ratio", "duration", "frames", "output_format", "omni_reference_task_type",
}  # fmt: skip
BOOLS = ("return_last_frame", "generate_audio", "draft", "camera_fixed", "watermark")
IMAGE_MAX = 30 * 1024 * 1024
# Prompt flags -> the field each one sets (Seedance 1.x style; [3P] still parsed by Ark).
FLAGS = {"rs": "resolution", "resolution": "resolution", "rt": "ratio", "ratio": "ratio", "dur": "duration",
         "duration": "duration", "seed": "seed", "wm": "watermark", "watermark": "watermark", "cf": "camera_fixed",
         "camerafixed": "camera_fixed", "fps": "fps", "frames": "frames"}  # fmt: skip
_FLAG = re.compile(r"(?:^|\s)--(\w+)\s+(\S+)")
_CODES = {400: ("InvalidParameter", "BadRequest"), 401: ("AuthenticationError", "Unauthorized"),
          403: ("AccessDenied", "Forbidden"), 404: ("ResourceNotFound", "NotFound"),
          429: ("RateLimitExceeded.EndpointRPMExceeded", "TooManyRequests"),
          500: ("InternalServiceError", "InternalServerError"), 502: ("ServiceUnavailable", "BadGateway"),
          503: ("ServiceUnavailable", "ServiceUnavailable")}  # fmt: skip
WEEK_S = 7 * 24 * 3600


class Invalid(Exception):
    def __init__(self, param: str, why: str, code: str = "InvalidParameter", status: int = 400) -> None:
        super().__init__(f"The parameter `{param}` specified in the request is not valid: {why}")
        self.param, self.code, self.status = param, code, status


class SeedanceEmulator(Emulator):
    name = "seedance"

    def __init__(self, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        #: Tasks whose outputs Ark has cleared (24 h after success).
        self.purged: set[str] = set()
        self.route("POST", TASKS, "create", self._create)
        self.route("GET", TASKS, "list", self._list)
        self.route("GET", TASKS + r"/(?P<id>[^/]+)", "poll", self._task)
        self.route("DELETE", TASKS + r"/(?P<id>[^/]+)", "cancel", self._delete)
        self.route("GET", r"/files/(?P<job>[^/]+)\.png", "last_frame", self._last_frame)

    signed_routes = frozenset({"download", "last_frame"})

    @property
    def base_url(self) -> str:
        return self.url + "/api/v3"

    def purge_outputs(self) -> None:
        """What 24 h do: every finished task's `video_url` is cleared (and old links stop working)."""
        with self._lock:
            self.purged.update(self.jobs)
        self.expire_outputs()

    # --- contract -----------------------------------------------------------------------------

    def check_auth(self, req: Recorded) -> Reply | None:
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error_response(401, "The API key or AK/SK in the request is missing or invalid.")
        return None

    def error_response(self, status: int, message: str, code: str | None = None, param: str = "") -> Reply:
        default, kind = _CODES.get(status, ("InternalServiceError", "InternalServerError"))
        return Reply(status, {"error": {"code": code or default, "message": message, "param": param, "type": kind}},
                     headers={"X-Request-Id": secrets.token_hex(8)})

    def _create(self, req: Recorded, match: re.Match[str]) -> Reply:
        try:
            body = req.json
        except ValueError:
            return self.error_response(400, "The request body is not valid JSON.")
        try:
            settings = self._validate(body)
        except Invalid as exc:
            return self.error_response(exc.status, str(exc), exc.code, exc.param)
        states = ["queued"] + ["running"] * (self.steps - 1) + ["succeeded"]
        job = self.new_job("video", {**body, "_effective": settings}, states, float(settings["duration"]))
        return Reply(200, {"id": job.id})

    def new_id(self) -> str:
        return time.strftime("cgt-%Y%m%d%H%M%S-", time.gmtime()) + secrets.token_hex(3)[:5]

    def _validate(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise Invalid("body", "expected a JSON object")
        given = {k: v for k, v in body.items() if v is not None}  # the SDK sends unset fields as null
        unknown = sorted(set(given) - FIELDS)
        if unknown:
            raise Invalid(unknown[0], "unknown field")
        if "model" not in given:
            raise Invalid("model", "required", code="MissingParameter")
        rules = MODELS.get(given["model"])
        if rules is None:
            raise Invalid("model", f"the model or endpoint {given['model']} does not exist or you do not have access "
                          "to it", code="InvalidEndpointOrModel.NotFound", status=404)
        text = self._check_content(given.get("content"), rules)
        flags = _flags(text)
        for field, value in flags.items():
            if field in ("fps", "frames"):
                raise Invalid(field, "not supported by this model")
            if field in given and str(given[field]).lower() != value.lower():
                raise Invalid(field, f"conflicts with the --{field} flag in the prompt")
        for field in BOOLS:
            if field in given and not isinstance(given[field], bool):
                raise Invalid(field, "expected a boolean")
        if "frames" in given:
            raise Invalid("frames", "not supported by this model")
        ratio = given.get("ratio", flags.get("ratio", "adaptive"))
        if ratio not in RATIOS:
            raise Invalid("ratio", f"expected one of {', '.join(RATIOS)}")
        resolution = given.get("resolution", flags.get("resolution", "720p"))
        if resolution not in rules["resolutions"]:
            raise Invalid("resolution", f"expected one of {', '.join(rules['resolutions'])}")
        duration = given.get("duration", _int(flags.get("duration", "5")))
        if not isinstance(duration, int) or isinstance(duration, bool) or duration not in rules["durations"]:
            raise Invalid("duration", f"expected an integer from {rules['durations'][0]} to {rules['durations'][-1]}")
        seed = given.get("seed", _int(flags.get("seed", "-1")))
        if not isinstance(seed, int) or isinstance(seed, bool) or not -1 <= seed <= 2**32 - 1:
            raise Invalid("seed", "expected an integer from -1 to 4294967295")
        if given.get("service_tier", "default") not in ("default", "flex"):
            raise Invalid("service_tier", "expected default or flex")
        expires = given.get("execution_expires_after", 172800)
        if not isinstance(expires, int) or not 3600 <= expires <= 259200:
            raise Invalid("execution_expires_after", "expected 3600 to 259200 seconds")
        return {"ratio": ratio, "resolution": resolution, "duration": duration, "seed": seed,
                "generate_audio": given.get("generate_audio", True), "service_tier": given.get("service_tier", "default"),
                "execution_expires_after": expires}  # fmt: skip

    def _check_content(self, content: Any, rules: dict[str, Any]) -> str:
        """Item types, image URLs and roles as Ark allows them; returns the prompt text."""
        if not isinstance(content, list) or not content:
            raise Invalid("content", "expected a non-empty list")
        texts: list[str] = []
        roles: list[str] = []
        counts = {"video_url": 0, "audio_url": 0}
        for item in content:
            kind = item.get("type") if isinstance(item, dict) else None
            if kind == "text":
                if not isinstance(item.get("text"), str) or not item["text"].strip():
                    raise Invalid("content.text", "expected a non-empty string")
                texts.append(item["text"])
            elif kind == "image_url":
                _check_image(item.get("image_url"))
                roles.append(item.get("role") or "")
            elif kind in counts:
                url = (item.get(kind) or {}).get("url") if isinstance(item.get(kind), dict) else None
                if not isinstance(url, str) or not url.startswith("https://"):
                    raise Invalid(f"content.{kind}", "expected an https URL")
                counts[kind] += 1
            else:
                raise Invalid("content.type", "expected text, image_url, video_url or audio_url")
        if len(texts) > 1 or (texts and len(texts[0]) > 3000):
            raise Invalid("content.text", "one text item of at most 3000 characters")
        _check_roles(roles, rules["max_images"], counts)
        if not texts and not roles and not counts["video_url"]:
            raise Invalid("content", "a text prompt or an image is required")
        return texts[0] if texts else ""

    # --- tasks --------------------------------------------------------------------------------

    def task_json(self, job: EmulatedJob) -> dict[str, Any]:
        """The task object in its current state, shaped like the SDK's `ContentGenerationTask`."""
        eff = job.request["_effective"]
        task: dict[str, Any] = {
            "id": job.id, "model": job.request["model"], "status": self._status(job), "error": None,
            "created_at": int(job.created_at), "updated_at": int(time.time()), "seed": eff["seed"] if eff["seed"] >= 0 else 42,
            "resolution": eff["resolution"], "ratio": eff["ratio"], "duration": eff["duration"], "framespersecond": 24,
            "generate_audio": eff["generate_audio"], "draft": False, "service_tier": eff["service_tier"],
            "execution_expires_after": eff["execution_expires_after"],
        }  # fmt: skip
        if job.request.get("safety_identifier"):
            task["safety_identifier"] = job.request["safety_identifier"]
        if task["status"] == "failed":
            code, message = job.failure or ("InternalServiceError", "internal error")
            task["error"] = {"code": code, "message": message}
        if task["status"] == "succeeded":
            width, height = SIZES[eff["resolution"]].get(eff["ratio"], SIZES[eff["resolution"]]["16:9"])
            tokens = width * height * 24 * eff["duration"] // 1024
            task["usage"] = {"completion_tokens": tokens, "total_tokens": tokens}
            task["content"] = {} if job.id in self.purged else {"video_url": self.output_url(job)}
            if job.request.get("return_last_frame") and job.id not in self.purged:
                task["content"]["last_frame_url"] = self.output_url(job).replace(".mp4", ".png")
        return task

    def _last_frame(self, req: Recorded, match: re.Match[str]) -> Reply:
        """The `last_frame_url` still: a PNG of the task's size, one flat colour per task (tests find it again)."""
        token = (req.query.get("token") or [""])[0]
        with self._lock:
            job = self.jobs.get(match["job"])
            valid = job is not None and self._tokens.get(token) == job.id
        if not valid or job is None:
            return Reply(403, raw=b"AccessDenied", headers={"Content-Type": "application/xml"})
        return Reply(200, raw=last_frame_png(job.id), headers={"Content-Type": "image/png"})

    def _status(self, job: EmulatedJob) -> str:
        if job.canceled:
            return "cancelled"
        if job.finished and job.failure:
            return "failed"
        return job.states[job.state_index]

    def _task(self, req: Recorded, match: re.Match[str]) -> Reply:
        job = self.read_job(match["id"])
        if job is None:
            return self.error_response(404, f"The specified task {match['id']} is not found.")
        return Reply(200, self.task_json(job))

    def _delete(self, req: Recorded, match: re.Match[str]) -> Reply:
        with self._lock:
            job = self.jobs.get(match["id"])
            if job is None:
                return self.error_response(404, f"The specified task {match['id']} is not found.")
            status = self._status(job)
            if status == "running":
                return self.error_response(400, "A running task cannot be cancelled.", "InvalidAction.TaskRunning")
            if status == "queued":
                job.canceled = True
            else:
                del self.jobs[job.id]  # a finished task's record is deleted
        return Reply(200, {})

    def _list(self, req: Recorded, match: re.Match[str]) -> Reply:
        try:
            return Reply(200, self.task_list(req.query))
        except Invalid as exc:
            return self.error_response(400, str(exc), exc.code, exc.param)

    def task_list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """`{"items", "total"}` for a list query (page_num, page_size, filter.*), newest first."""
        page = _int((query.get("page_num") or ["1"])[0])
        size = _int((query.get("page_size") or ["10"])[0])
        for name, value in (("page_num", page), ("page_size", size)):
            if value is None or not 1 <= value <= 500:
                raise Invalid(name, "expected 1 to 500")
        status = (query.get("filter.status") or [None])[0]
        if status is not None and status not in ("queued", "running", "cancelled", "succeeded", "failed"):
            raise Invalid("filter.status", "expected queued, running, cancelled, succeeded or failed")
        ids = set(query.get("filter.task_ids") or [])
        model = (query.get("filter.model") or [None])[0]
        tier = (query.get("filter.service_tier") or [None])[0]
        since = time.time() - WEEK_S
        with self._lock:
            tasks = [self.task_json(j) for j in sorted(self.jobs.values(), key=lambda j: j.created_at, reverse=True)
                     if j.created_at >= since]
        tasks = [t for t in tasks if (status is None or t["status"] == status) and (not ids or t["id"] in ids)
                 and (model is None or t["model"] == model) and (tier is None or t["service_tier"] == tier)]
        return {"items": tasks[(page - 1) * size : page * size], "total": len(tasks)}


def _check_image(image: Any) -> None:
    url = image.get("url") if isinstance(image, dict) else None
    if not isinstance(url, str):
        raise Invalid("content.image_url", "expected {url}")
    if url.startswith("data:"):
        head, _, payload = url.partition(",")
        if not re.fullmatch(r"data:image/(png|jpeg|jpg|webp|bmp|tiff|gif);base64", head):
            raise Invalid("content.image_url", "expected data:image/<format>;base64,...")
        try:
            data = base64.b64decode(payload, validate=True)
        except ValueError:
            raise Invalid("content.image_url", "the base64 data cannot be decoded") from None
        if not data or len(data) > IMAGE_MAX:
            raise Invalid("content.image_url", "an image must be under 30 MB")
    elif not re.match(r"https://[a-z0-9.-]+\.[a-z]{2,}/", url):
        raise Invalid("content.image_url", "expected an https URL or a base64 data URI")


def _check_roles(roles: list[str], max_images: int, counts: dict[str, int]) -> None:
    if len(roles) == 1 and roles[0] == "":
        roles = ["first_frame"]  # one image without a role is the first frame
    if any(r not in ("first_frame", "last_frame", "reference_image") for r in roles):
        raise Invalid("content.role", "expected first_frame, last_frame or reference_image")
    frames = [r for r in roles if r != "reference_image"]
    refs = len(roles) - len(frames)
    if frames and (refs or counts["video_url"] or counts["audio_url"]):
        raise Invalid("content.role", "first/last frames cannot be mixed with references")
    if frames.count("first_frame") > 1 or frames.count("last_frame") > 1:
        raise Invalid("content.role", "at most one first_frame and one last_frame")
    if "last_frame" in frames and "first_frame" not in frames:
        raise Invalid("content.role", "a last_frame needs a first_frame")
    if refs > max_images or counts["video_url"] > 3 or counts["audio_url"] > 3:
        raise Invalid("content", f"at most {max_images} reference images, 3 videos and 3 audio files")
    if counts["audio_url"] and not (refs or counts["video_url"]):
        raise Invalid("content.audio_url", "audio needs at least one reference image or video")


def _flags(text: str) -> dict[str, str]:
    """Prompt flags (`--rs 720p --dur 5`) as the fields they set."""
    out: dict[str, str] = {}
    for flag, value in _FLAG.findall(text):
        field = FLAGS.get(flag.lower())
        if field is None:
            raise Invalid(f"--{flag}", "unknown flag in the prompt")
        out[field] = value
    return out


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def last_frame_png(job_id: str) -> bytes:
    """The still Ark returns for a task: 320x180, a flat colour derived from the task id."""
    import hashlib
    import io

    from PIL import Image

    colour = tuple(hashlib.sha256(job_id.encode()).digest()[:3])
    out = io.BytesIO()
    Image.new("RGB", (320, 180), colour).save(out, format="PNG")
    return out.getvalue()
