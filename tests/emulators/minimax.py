"""Loopback emulator of MiniMax's video API (Hailuo), as the official MiniMax-MCP client sees it.

Contract (docs/providers.md, MiniMax section):

* `POST /v1/video_generation` → `{"task_id": "...", "base_resp": {"status_code": 0, "status_msg": "success"}}`
* `GET /v1/query/video_generation?task_id=` → `status` in `Preparing`, `Queueing`, `Processing`,
  `Success`, `Fail` (TitleCase), `file_id` once done, `video_width`/`video_height`.
* `GET /v1/files/retrieve?file_id=` → `{"file": {..., "download_url": "..."}, "base_resp": {...}}`.
* Errors are HTTP 200 with a non-zero `base_resp.status_code` (1002 rate limit, 1004 auth,
  1008 balance, 1026/1027 sensitive content, 2013 invalid params); HTTP errors only come from
  gateways (faults injected with `inject(route, status=...)`).

Beyond the base faults, `inject_code(route, code, msg)` answers 200 with that `base_resp`, and
`fail_next = ("1027", "output video sensitive")` ends the next job in `Fail` with that code
(`fail_next = ("0", "")`: `Fail` with base_resp 0, as the official MiniMax-MCP client reads it).
"""

from __future__ import annotations

import itertools
import re
import threading
from typing import Any

from emulators.base import Emulator, EmulatedJob, Recorded, Reply

STATES = ["Preparing", "Queueing", "Processing", "Success"]
API_KEY = "mm-test-key"

#: Wire model names and what each accepts (mirrors MiniMax's documented rules).
MODELS: dict[str, dict[str, Any]] = {
    "MiniMax-Hailuo-02": {"durations": {6, 10}, "resolutions": {"512P", "768P", "1080P"}, "default_res": "768P"},
    "MiniMax-Hailuo-2.3": {"durations": {6, 10}, "resolutions": {"768P", "1080P"}, "default_res": "768P"},
    "MiniMax-Hailuo-2.3-Fast": {"durations": {6, 10}, "resolutions": {"768P", "1080P"}, "default_res": "768P",
                                "needs_image": True},
    "T2V-01-Director": {"durations": {6}, "resolutions": {"720P"}, "default_res": "720P"},
    "I2V-01-Director": {"durations": {6}, "resolutions": {"720P"}, "default_res": "720P", "needs_image": True},
    "T2V-01": {"durations": {6}, "resolutions": {"720P"}, "default_res": "720P"},
    "I2V-01": {"durations": {6}, "resolutions": {"720P"}, "default_res": "720P", "needs_image": True},
}  # fmt: skip

_SIZES = {"512P": (910, 512), "720P": (1280, 720), "768P": (1366, 768), "1080P": (1920, 1080)}
_IMAGE_URI = re.compile(r"data:image/(jpeg|jpg|png|webp);base64,[A-Za-z0-9+/=\s]+")
_MAX_IMAGE_CHARS = 20 * 1024 * 1024 * 4 // 3 + 64  # 20 MB of image as base64


def base_resp(code: int = 0, msg: str = "success") -> dict[str, Any]:
    return {"status_code": code, "status_msg": msg}


class InvalidParams(Exception):
    """A create body MiniMax would refuse with 2013."""


class MiniMaxEmulator(Emulator):
    name = "minimax"

    def __init__(self, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self._ids = itertools.count(106916112212032)
        self._id_lock = threading.Lock()
        self._files: dict[str, str] = {}  # file_id -> job id
        self.route("POST", r"/v1/video_generation", "create", self._create)
        self.route("GET", r"/v1/query/video_generation", "poll", self._query)
        self.route("GET", r"/v1/files/retrieve", "retrieve", self._retrieve)

    # MiniMax ids are long decimal strings.
    def new_id(self) -> str:
        with self._id_lock:
            return str(next(self._ids))

    def inject_code(self, route: str, code: int, msg: str, *, times: int = 1) -> None:
        """Answer the next `times` requests to `route` with HTTP 200 and this `base_resp` error."""
        self.inject(route, status=200, body={"base_resp": base_resp(code, msg)}, times=times)

    def check_auth(self, req: Recorded) -> Reply | None:
        auth = req.headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return Reply(200, {"base_resp": base_resp(
                1004, "login fail: Please carry the API secret key in the 'Authorization' field of the request header")})
        if auth.removeprefix("Bearer ").strip() != self.api_key:
            return Reply(200, {"base_resp": base_resp(2049, "invalid api key")})
        return None

    def error_response(self, status: int, message: str) -> Reply:
        # MiniMax's own errors are 200 + base_resp; HTTP errors come from its gateway and still
        # carry a base_resp so clients that read it get a message.
        return Reply(status, {"base_resp": base_resp(1000, message)})

    # routes
    def _create(self, req: Recorded, match: re.Match[str]) -> Reply:
        try:
            body = req.json
        except ValueError:
            return Reply(200, {"base_resp": base_resp(2013, "invalid params, request body is not JSON")})
        try:
            model, resolution, duration = _validate(body)
        except InvalidParams as exc:
            return Reply(200, {"task_id": "", "base_resp": base_resp(2013, f"invalid params, {exc}")})
        job = self.new_job("video", body, STATES, duration_s=1.0)
        job.request = {**body, "_resolution": resolution, "_duration": duration, "_model": model}
        return Reply(200, {"task_id": job.id, "base_resp": base_resp()})

    def _query(self, req: Recorded, match: re.Match[str]) -> Reply:
        task_id = (req.query.get("task_id") or [""])[0]
        job = self.read_job(task_id)
        if job is None:
            return Reply(200, {"task_id": task_id, "status": "", "file_id": "",
                               "base_resp": base_resp(2013, f"invalid params, task {task_id} not found")})
        return Reply(200, self._task_view(job))

    def _task_view(self, job: EmulatedJob) -> dict[str, Any]:
        status = STATES[job.state_index]
        view: dict[str, Any] = {"task_id": job.id, "status": status, "file_id": "",
                                "video_width": 0, "video_height": 0, "base_resp": base_resp()}
        if job.finished and job.failure is not None:
            # A code of "0" gives the shape the official MiniMax-MCP client expects (it reads `Fail`
            # only with base_resp 0); another code puts that reason in base_resp [UNVERIFIED which].
            code, msg = job.failure
            view["status"] = "Fail"
            view["base_resp"] = base_resp(int(code), msg or "success")
        elif status == "Success":
            file_id = str(int(job.id) + 7_000_000)
            with self._lock:
                self._files[file_id] = job.id
            width, height = _SIZES[job.request["_resolution"]]
            view.update(file_id=file_id, video_width=width, video_height=height)
        return view

    def _retrieve(self, req: Recorded, match: re.Match[str]) -> Reply:
        file_id = (req.query.get("file_id") or [""])[0]
        with self._lock:
            job = self.jobs.get(self._files.get(file_id, ""))
        if job is None:
            return Reply(200, {"base_resp": base_resp(1013, f"file {file_id} not found")})
        return Reply(200, {
            "file": {"file_id": int(file_id), "bytes": 0, "created_at": int(job.created_at),
                     "filename": "output.mp4", "purpose": "video_generation", "download_url": self.output_url(job)},
            "base_resp": base_resp(),
        })


def _validate(body: Any) -> tuple[str, str, int]:
    """(model, resolution, duration) of a valid create body, else `InvalidParams` naming the field."""
    if not isinstance(body, dict):
        raise InvalidParams("body must be a JSON object")
    model = body.get("model")
    rules = MODELS.get(model) if isinstance(model, str) else None
    if rules is None:
        raise InvalidParams(f"model: unknown model {model!r}")
    prompt = body.get("prompt", "")
    if not isinstance(prompt, str) or len(prompt) > 2000:
        raise InvalidParams("prompt: must be a string of at most 2000 characters")
    first, last = body.get("first_frame_image"), body.get("last_frame_image")
    for name, image in (("first_frame_image", first), ("last_frame_image", last)):
        if image is not None and not _valid_image(image):
            raise InvalidParams(f"{name}: must be an http(s) URL or a data:image/...;base64 URI under 20 MB")
    if rules.get("needs_image") and not first:
        raise InvalidParams(f"first_frame_image: required for {model}")
    if not first and not prompt:
        raise InvalidParams("prompt: required for text-to-video")
    if last and model != "MiniMax-Hailuo-02":
        raise InvalidParams(f"last_frame_image: not supported by {model}")
    duration = body.get("duration", 6)
    resolution = body.get("resolution", rules["default_res"])
    if duration not in rules["durations"]:
        raise InvalidParams(f"duration: {duration!r} not supported by {model}")
    if resolution not in rules["resolutions"]:
        raise InvalidParams(f"resolution: {resolution!r} not supported by {model}")
    if duration == 10 and resolution == "1080P":
        raise InvalidParams("duration: 10 s is not available at 1080P")
    if resolution == "512P" and (not first or last):
        raise InvalidParams("resolution: 512P needs a first frame and no last frame")
    return model, resolution, duration


def _valid_image(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if value.startswith(("http://", "https://")):
        return True
    return len(value) <= _MAX_IMAGE_CHARS and _IMAGE_URI.fullmatch(value) is not None
