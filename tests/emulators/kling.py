"""Loopback emulator of Kling's direct API (contract: Kling's API docs as copied in public clients,
providers.md §8; cross-checked in tests/providers/test_kling_client.py).

Speaks: `Authorization: Bearer <JWT>` whose HS256 signature, `iss`, `nbf` and `exp` are verified
against the key pair (codes 1000-1004 on HTTP 401); `POST /v1/videos/{text2video,image2video,
video-extend}` with snake_case bodies validated per model, mode and duration (durations are
*strings*, images a URL or raw base64 without a `data:` prefix, unknown fields refused); the
`{code, message, request_id, data}` envelope on every answer; tasks submitted -> processing ->
succeed | failed read at `GET /v1/videos/{endpoint}/{task_id}` (the endpoint must match); error
codes on their documented HTTP statuses (1102 balance and 1302/1303 limits on 429, 1201/1301 on
400, 5000 on 500). No cancel endpoint exists; neither does a progress figure.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import re
import time
import uuid
from typing import Any

from .base import EmulatedJob, Emulator, Recorded, Reply

ACCESS_KEY = "ak-test-kling-0001"
SECRET_KEY = "kling-test-secret-9f8e7d6c5b4a"
T2V_FIELDS = {"model_name", "prompt", "negative_prompt", "cfg_scale", "mode", "camera_control", "aspect_ratio",
              "duration", "callback_url", "external_task_id", "sound"}
I2V_FIELDS = {"model_name", "image", "image_tail", "prompt", "negative_prompt", "cfg_scale", "mode", "static_mask",
              "dynamic_masks", "camera_control", "duration", "callback_url", "external_task_id", "sound", "voice_list"}
EXTEND_FIELDS = {"video_id", "prompt", "negative_prompt", "cfg_scale", "callback_url", "external_task_id"}
FIVE_TEN = ("5", "10")
#: Kling's published feature matrix, per wire model: endpoints, modes, durations, and the
#: (mode, duration) pairs where an end frame, camera control (t2v / i2v) and sound "on" work.
MODELS: dict[str, dict[str, Any]] = {
    "kling-v1": {"t2v": True, "i2v": True, "durations": FIVE_TEN, "tail": {("std", "5"), ("pro", "5")},
                 "camera_t2v": {("std", "5")}, "extend": True, "units": {"std": 1, "pro": 3.5}},
    "kling-v1-6": {"t2v": True, "i2v": True, "durations": FIVE_TEN, "tail": {("pro", "5"), ("pro", "10")},
                   "extend": True, "units": {"std": 2, "pro": 3.5}},
    "kling-v2-master": {"t2v": True, "i2v": True, "durations": FIVE_TEN, "units": {"std": 10, "pro": 10}},
    "kling-v2-1": {"i2v": True, "durations": FIVE_TEN, "tail": {("pro", "5"), ("pro", "10")},
                   "units": {"std": 2, "pro": 3.5}},
    "kling-v2-1-master": {"t2v": True, "i2v": True, "durations": FIVE_TEN, "units": {"std": 10, "pro": 10}},
    "kling-v2-5-turbo": {"t2v": True, "i2v": True, "durations": FIVE_TEN, "tail": {("pro", "5"), ("pro", "10")},
                         "units": {"std": 1.5, "pro": 2.5}},
    "kling-v2-6": {"t2v": True, "i2v": True, "durations": FIVE_TEN, "tail": {("pro", "5"), ("pro", "10")},
                   "sound": {"pro"}, "units": {"std": 1.5, "pro": 2.5}},
    "kling-v3": {"t2v": True, "i2v": True, "durations": tuple(str(s) for s in range(3, 16)), "sound": {"std", "pro"},
                 "units": {"std": 0.6, "pro": 0.8}, "per_second": True},
}  # fmt: skip
CAMERA_TYPES = {"simple", "down_back", "forward_up", "right_turn_forward", "left_turn_forward"}
CAMERA_AXES = ("horizontal", "vertical", "pan", "tilt", "roll", "zoom")
#: HTTP status -> the Kling code an injected fault carries.
STATUS_CODES = {400: 1201, 401: 1000, 403: 1103, 404: 1203, 429: 1302, 500: 5000, 502: 5000, 503: 5001, 504: 5002}


class BadParam(Exception):
    def __init__(self, message: str, code: int = 1201, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status


class KlingEmulator(Emulator):
    name = "kling"

    def __init__(self, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> None:
        super().__init__()
        self.access_key, self.secret_key = access_key, secret_key
        self.units = 10_000.0
        self.max_concurrency = 20
        #: video id -> (job id, model) of every finished video (what video-extend accepts).
        self.videos: dict[str, tuple[str, str]] = {}
        #: A video-extend result holds the source too (else only the new seconds).
        self.extend_returns_whole = True
        #: Issued-at times seen in valid tokens (tests check that tokens are minted per request).
        self.token_iats: list[int] = []
        self.route("POST", r"/v1/videos/(?P<endpoint>text2video|image2video|video-extend)", "create", self._create)
        self.route("GET", r"/v1/videos/(?P<endpoint>text2video|image2video|video-extend)/(?P<id>[^/]+)", "poll",
                   self._task)

    # --- auth: a real HS256 check ------------------------------------------------------------------

    def check_auth(self, req: Recorded) -> Reply | None:
        header = req.headers.get("authorization", "")
        if not header:
            return self._error(401, 1001, "Authorization is empty")
        scheme, _, token = header.partition(" ")
        parts = token.split(".")
        if scheme != "Bearer" or len(parts) != 3:
            return self._error(401, 1002, "Authorization is invalid")
        try:
            head, claims = (json.loads(_unb64(p)) for p in parts[:2])
            signature = _unb64(parts[2])
        except (ValueError, binascii.Error):
            return self._error(401, 1002, "Authorization is invalid")
        expected = hmac.new(self.secret_key.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        if head.get("alg") != "HS256" or not hmac.compare_digest(signature, expected) or claims.get("iss") != self.access_key:
            return self._error(401, 1000, "Authentication failed")
        now = time.time()
        if not isinstance(claims.get("nbf"), int) or claims["nbf"] > now:
            return self._error(401, 1003, "Authorization is not yet valid")
        if not isinstance(claims.get("exp"), int) or claims["exp"] < now:
            return self._error(401, 1004, "Authorization has expired")
        with self._lock:
            self.token_iats.append(claims["nbf"])
        return None

    def error_response(self, status: int, message: str) -> Reply:
        return self._error(status, STATUS_CODES.get(status, 5000), message)

    def _error(self, status: int, code: int, message: str) -> Reply:
        return Reply(status, {"code": code, "message": message, "request_id": str(uuid.uuid4())})

    @staticmethod
    def _ok(data: Any) -> Reply:
        return Reply(200, {"code": 0, "message": "SUCCEED", "request_id": str(uuid.uuid4()), "data": data})

    # --- create -----------------------------------------------------------------------------------

    def _create(self, req: Recorded, match: re.Match[str]) -> Reply:
        endpoint = match["endpoint"]
        try:
            body = req.json
            if not isinstance(body, dict):
                raise BadParam("Invalid request body")
            model, duration, units = (self._validate_extend(body) if endpoint == "video-extend"
                                      else self._validate(endpoint, body))
        except BadParam as exc:
            return self._error(exc.status, exc.code, str(exc))
        except ValueError:
            return self._error(400, 1200, "Request body is not valid JSON")
        if "forbidden" in str(body.get("prompt", "")).lower():
            return self._error(400, 1301, "Trigger content security policy")
        with self._lock:
            if units > self.units:
                return self._error(429, 1102, "Account balance not enough: resource pack depleted")
            if sum(1 for j in self.jobs.values() if not j.finished) >= self.max_concurrency:
                return self._error(429, 1303, "parallel task over resource pack limit")
            self.units -= units
        states = ["submitted"] + ["processing"] * (self.steps - 1) + ["succeed"]
        job = self.new_job(endpoint, {**body, "model_name": model, "units": units}, states, duration)
        return self._ok({"task_id": job.id, "task_status": "submitted", "task_info": _info(body),
                         "created_at": int(job.created_at * 1000), "updated_at": int(job.created_at * 1000)})

    def new_id(self) -> str:
        return str(uuid.uuid4().int % 10**18)  # Kling task ids are long numeric strings

    def _validate(self, endpoint: str, body: dict[str, Any]) -> tuple[str, float, float]:
        allowed = T2V_FIELDS if endpoint == "text2video" else I2V_FIELDS
        for field in body:
            if field not in allowed:
                raise BadParam(f"Invalid parameter: {field} is not supported")
        model = body.get("model_name", "kling-v1")
        rules = MODELS.get(model)
        if rules is None or not rules.get("t2v" if endpoint == "text2video" else "i2v"):
            raise BadParam(f"model_name {model} is not supported for {endpoint}", code=1203, status=404)
        mode, duration = body.get("mode", "std"), body.get("duration", "5")
        if mode not in ("std", "pro"):
            raise BadParam("Invalid parameter: mode must be std or pro")
        if not isinstance(duration, str) or duration not in rules["durations"]:
            raise BadParam(f"Invalid parameter: duration must be one of {', '.join(rules['durations'])} (a string)")
        self._check_text(body, "prompt", required=endpoint == "text2video")
        self._check_text(body, "negative_prompt", required=False)
        if endpoint == "text2video" and body.get("aspect_ratio", "16:9") not in ("16:9", "9:16", "1:1"):
            raise BadParam("Invalid parameter: aspect_ratio")
        if "cfg_scale" in body and not model.startswith("kling-v1"):
            raise BadParam("Invalid parameter: cfg_scale is not supported by kling-v2 models")
        if endpoint == "image2video":
            if "image" not in body:
                raise BadParam("Invalid parameter: image is required")
            _check_image(body["image"], "image")
        if "image_tail" in body:
            _check_image(body["image_tail"], "image_tail")
            if (mode, duration) not in rules.get("tail", set()):
                raise BadParam(f"Invalid parameter: image_tail is not supported by {model} {mode} {duration}s")
        if "camera_control" in body:
            self._check_camera(body, rules, endpoint, mode, duration)
        if "sound" in body:
            if "sound" not in rules or body["sound"] not in ("on", "off"):
                raise BadParam(f"Invalid parameter: sound is not supported by {model}")
            if body["sound"] == "on" and (mode not in rules["sound"] or "image_tail" in body):
                raise BadParam(f"Invalid parameter: sound is not supported by {model} {mode}")
        seconds = float(duration)
        units = rules["units"][mode] * (seconds if rules.get("per_second") else seconds / 5)
        return model, seconds, units

    @staticmethod
    def _check_text(body: dict[str, Any], field: str, *, required: bool) -> None:
        value = body.get(field)
        if value is None and not required:
            return
        if not isinstance(value, str) or not value.strip() or len(value) > 2500:
            raise BadParam(f"Invalid parameter: {field} must be a non-empty string of at most 2500 characters")

    @staticmethod
    def _check_camera(body: dict[str, Any], rules: dict[str, Any], endpoint: str, mode: str, duration: str) -> None:
        camera = body["camera_control"]
        where = rules.get("camera_t2v" if endpoint == "text2video" else "camera_i2v", set())
        if (mode, duration) not in where or "image_tail" in body:
            raise BadParam(f"Invalid parameter: camera_control is not supported by {body.get('model_name')} {mode} "
                           f"{duration}s")
        if not isinstance(camera, dict) or camera.get("type") not in CAMERA_TYPES:
            raise BadParam("Invalid parameter: camera_control.type")
        config = camera.get("config")
        if camera["type"] != "simple":
            if config is not None:
                raise BadParam("Invalid parameter: camera_control.config is only for type simple")
            return
        if not isinstance(config, dict) or set(config) - set(CAMERA_AXES):
            raise BadParam("Invalid parameter: camera_control.config")
        values = [config.get(axis, 0) for axis in CAMERA_AXES]
        if any(not isinstance(v, (int, float)) or not -10 <= v <= 10 for v in values) or sum(1 for v in values if v) != 1:
            raise BadParam("Invalid parameter: camera_control.config needs exactly one non-zero value in [-10, 10]")

    def _validate_extend(self, body: dict[str, Any]) -> tuple[str, float, float]:
        for field in body:
            if field not in EXTEND_FIELDS:
                raise BadParam(f"Invalid parameter: {field} is not supported")
        with self._lock:
            source = self.videos.get(str(body.get("video_id")))
        if source is None:
            raise BadParam("video_id does not exist", code=1203, status=404)
        if not MODELS[source[1]].get("extend"):
            raise BadParam(f"Invalid parameter: videos of {source[1]} cannot be extended")
        self._check_text(body, "prompt", required=False)
        # Whether the result is the whole video or only the new ~4.5 s is not documented: both are emulated.
        whole = self.jobs[source[0]].output_duration_s if self.extend_returns_whole else 0.0
        return source[1], whole + 4.5, MODELS[source[1]]["units"]["std"]

    # --- query ----------------------------------------------------------------------------------

    def _task(self, req: Recorded, match: re.Match[str]) -> Reply:
        """A task by its task_id, or by the external_task_id its create carried (Kling's query takes either)."""
        with self._lock:
            known = self.jobs.get(match["id"]) or next(
                (j for j in self.jobs.values() if j.request.get("external_task_id") == match["id"]), None)
        if known is None or known.kind != match["endpoint"]:
            return self._error(404, 1203, "task not found")
        return self._ok(self.task_json(self.read_job(known.id) or known))

    def task_json(self, job: EmulatedJob) -> dict[str, Any]:
        now = int(time.time() * 1000)
        task: dict[str, Any] = {"task_id": job.id, "task_status": job.states[job.state_index], "task_status_msg": "",
                                "task_info": _info(job.request), "created_at": int(job.created_at * 1000),
                                "updated_at": now}  # fmt: skip
        if job.finished and job.failure:
            task.update(task_status="failed", task_status_msg=job.failure[1])
        elif task["task_status"] == "succeed":
            video_id = f"v-{job.id}"
            with self._lock:
                self.videos[video_id] = (job.id, job.request["model_name"])
            task["final_unit_deduction"] = f"{job.request['units']:g}"
            task["task_result"] = {"videos": [{"id": video_id, "url": self.output_url(job),
                                               "duration": f"{job.output_duration_s:g}"}]}
        return task


def _info(body: Any) -> dict[str, Any]:
    external = body.get("external_task_id") if isinstance(body, dict) else None
    return {"external_task_id": external} if external else {}


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_image(value: Any, field: str) -> None:
    """A URL, or raw base64 (no data: prefix) of a JPG/PNG of at least 300 px a side, ratio up to 2.5."""
    if not isinstance(value, str) or not value:
        raise BadParam(f"Invalid parameter: {field}")
    if value.startswith(("http://", "https://")):
        return
    if value.startswith("data:"):
        raise BadParam(f"Invalid parameter: {field} base64 must not carry a data: prefix")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BadParam(f"Invalid parameter: {field} is neither a URL nor base64") from None
    if len(raw) > 10 * 1024 * 1024 or not raw.startswith((b"\x89PNG", b"\xff\xd8")):
        raise BadParam(f"Invalid parameter: {field} must be a JPG or PNG up to 10MB")
    from PIL import Image

    with Image.open(io.BytesIO(raw)) as im:
        w, h = im.size
    if min(w, h) < 300 or max(w, h) > 2.5 * min(w, h):
        raise BadParam(f"Invalid parameter: {field} must be at least 300px with aspect ratio within 1:2.5")
