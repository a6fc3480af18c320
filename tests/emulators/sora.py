"""Loopback emulator of OpenAI's Videos API (Sora 2). Contract: openai SDK 3.57 (`resources/videos.py`,
`types/video*.py`) and providers-update.md.

Speaks: `Authorization: Bearer <key>` on every route, the content download included (there is no
public link); `POST /v1/videos` as multipart/form-data (what the SDK always sends, nested fields as
`input_reference[image_url]`) or JSON, validated like the API: `prompt` required, `model` one of the
Sora models, `seconds` the STRING "4" | "8" | "12", `size` one of the model's sizes, an uploaded
`input_reference` image exactly at `size`, unknown fields refused; the Video object on create;
`GET /v1/videos/{id}` moving queued -> in_progress (integer `progress`) -> completed, or failed with
`error {code, message}`; `GET /v1/videos/{id}/content?variant=video|thumbnail|spritesheet`;
`GET /v1/videos` (cursor list: `after`, `limit`, `order`); `DELETE /v1/videos/{id}`;
`POST /v1/videos/extensions` (stitched total length). Errors are `{"error": {message, type, param, code}}`.
"""

from __future__ import annotations

import email.parser
import email.policy
import io
import json
import re
import secrets
import time
from typing import Any

from .base import EmulatedJob, Emulator, Recorded, Reply, sample_mp4

SIZES = {"sora-2": ["720x1280", "1280x720"], "sora-2-pro": ["720x1280", "1280x720", "1024x1792", "1792x1024"]}
MODELS = {"sora-2": "sora-2", "sora-2-2025-10-06": "sora-2", "sora-2-2025-12-08": "sora-2",
          "sora-2-pro": "sora-2-pro", "sora-2-pro-2025-10-06": "sora-2-pro"}
SECONDS = ("4", "8", "12")
EXTENSION_SECONDS = ("4", "8", "12", "16", "20")
CREATE_FIELDS = {"prompt", "model", "seconds", "size", "input_reference"}
ID = r"video_[0-9a-f]{32}"
#: Output clips are this fraction of the real size (a quick encode that keeps the aspect ratio).
SCALE = 8
FPS = 30


class Invalid(Exception):
    def __init__(self, message: str, param: str | None = None, code: str | None = "invalid_value") -> None:
        super().__init__(message)
        self.param, self.code = param, code


class SoraEmulator(Emulator):
    name = "sora"

    def __init__(self, api_key: str = "sk-test-sora-0123456789") -> None:
        super().__init__()
        self.api_key = api_key
        #: Set to make creates answer 429 insufficient_quota (an account out of credit).
        self.out_of_quota = False
        self.route("POST", r"/v1/videos", "create", self._create)
        self.route("POST", r"/v1/videos/extensions", "extend", self._extend)
        self.route("GET", r"/v1/videos", "list", self._list)
        self.route("GET", rf"/v1/videos/(?P<id>{ID})", "poll", self._retrieve)
        self.route("DELETE", rf"/v1/videos/(?P<id>{ID})", "cancel", self._delete)
        # Named "download" like every emulator's output route; the key is checked in the handler.
        self.route("GET", rf"/v1/videos/(?P<id>{ID})/content", "download", self._content)

    def new_id(self) -> str:
        return "video_" + secrets.token_hex(16)

    def check_auth(self, req: Recorded) -> Reply | None:
        given = req.headers.get("authorization", "")
        if given == f"Bearer {self.api_key}":
            return None
        if not given:
            return self.error_response(401, "You didn't provide an API key.", code=None)
        # The real message quotes the key's start and end: the adapter must not pass it on.
        key = given.removeprefix("Bearer ")
        return self.error_response(401, f"Incorrect API key provided: {key[:3]}***{key[-4:]}.", code="invalid_api_key")

    def error_response(self, status: int, message: str, *, param: str | None = None,
                       code: str | None = None, kind: str | None = None) -> Reply:
        kind = kind or ("invalid_request_error" if status < 500 else "server_error")
        return Reply(status, {"error": {"message": message, "type": kind, "param": param, "code": code}})

    def expire_outputs(self) -> None:
        """Every finished video's assets pass `expires_at` (OpenAI keeps them about an hour)."""
        with self._lock:
            for job in self.jobs.values():
                job.request["_expired"] = True

    # --- create -------------------------------------------------------------------------------

    def _create(self, req: Recorded, match: re.Match[str]) -> Reply:
        try:
            fields, files = _form(req)
            model, seconds, size = self._validate(fields, files)
        except Invalid as exc:
            return self.error_response(400, str(exc), param=exc.param, code=exc.code)
        if self.out_of_quota:
            return self.error_response(429, "You exceeded your current quota, please check your plan and billing "
                                       "details.", code="insufficient_quota", kind="insufficient_quota")
        request = {"model": model, "prompt": fields["prompt"], "seconds": seconds, "size": size,
                   "reference": "file" if "input_reference" in files else fields.get("input_reference[image_url]")}
        return Reply(200, self.video_json(self._start("create", request, float(seconds))))

    def _validate(self, fields: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> tuple[str, str, str]:
        for name in [*fields, *files]:
            if name.split("[")[0] not in CREATE_FIELDS:
                raise Invalid(f"Unrecognized request argument supplied: {name}", param=name, code="unknown_parameter")
        prompt = fields.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise Invalid("Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter")
        model = fields.get("model", "sora-2")
        if model not in MODELS:
            raise Invalid(f"Invalid value: '{model}'. Supported values are: {', '.join(map(repr, MODELS))}.", param="model")
        seconds = fields.get("seconds", "4")
        if not isinstance(seconds, str):  # JSON bodies: a number is a type error, not a coercion
            raise Invalid(f"Invalid type for 'seconds': expected one of '4', '8', '12', but got {type(seconds).__name__}.",
                          param="seconds", code="invalid_type")
        if seconds not in SECONDS:
            raise Invalid(f"Invalid value: '{seconds}'. Supported values are: '4', '8', and '12'.", param="seconds")
        size = fields.get("size", "720x1280")
        if size not in SIZES[MODELS[model]]:
            raise Invalid(f"Invalid value: '{size}'. Supported values for {model} are: {', '.join(SIZES[MODELS[model]])}.",
                          param="size")
        self._check_reference(fields, files, size)
        return model, seconds, size

    def _check_reference(self, fields: dict[str, Any], files: dict[str, tuple[str, bytes]], size: str) -> None:
        nested = {k for k in fields if k.startswith("input_reference")}
        if "input_reference" in files:
            mime, data = files["input_reference"]
            if mime not in ("image/jpeg", "image/png", "image/webp"):
                raise Invalid(f"Invalid file format for input_reference: {mime}. Supported: image/jpeg, image/png, "
                              "image/webp.", param="input_reference", code="unsupported_file_mimetype")
            if _image_size(data) != size:
                raise Invalid("Inpaint image must match the requested width and height", param="input_reference")
        elif nested - {"input_reference[image_url]", "input_reference[file_id]"}:
            raise Invalid("input_reference must be a file, or an object with image_url or file_id.", param="input_reference")
        url = fields.get("input_reference[image_url]")
        if url is not None and not re.match(r"(https?://|data:image/)", str(url)):
            raise Invalid("input_reference.image_url must be a fully qualified URL or a data URL.", param="input_reference")

    # --- extension -----------------------------------------------------------------------------

    def _extend(self, req: Recorded, match: re.Match[str]) -> Reply:
        try:
            fields, _ = _form(req)
            if not str(fields.get("prompt") or "").strip():
                raise Invalid("Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter")
            seconds = fields.get("seconds")
            if seconds not in EXTENSION_SECONDS:
                raise Invalid(f"Invalid value: '{seconds}'. Supported values are: {', '.join(EXTENSION_SECONDS)}.",
                              param="seconds")
            source = self.jobs.get(str(fields.get("video[id]") or (fields.get("video") or {}).get("id", "")))
            if source is None or not self._completed(source):
                raise Invalid("video must reference a completed video.", param="video")
        except Invalid as exc:
            return self.error_response(400, str(exc), param=exc.param, code=exc.code)
        total = float(source.request["seconds"]) + float(seconds)
        request = {**source.request, "prompt": fields["prompt"], "seconds": f"{total:g}", "extends": source.id}
        request.pop("_expired", None)
        return Reply(200, self.video_json(self._start("extend", request, total)))

    # --- reads, list, delete, content ------------------------------------------------------------

    def _start(self, kind: str, request: dict[str, Any], seconds: float) -> EmulatedJob:
        states = ["queued"] + ["in_progress"] * (self.steps - 1) + ["completed"]
        return self.new_job(kind, request, states, seconds)

    def _retrieve(self, req: Recorded, match: re.Match[str]) -> Reply:
        job = self.read_job(match["id"])
        if job is None or job.canceled:
            return self._not_found(match["id"])
        return Reply(200, self.video_json(job))

    def _not_found(self, video_id: str) -> Reply:
        return self.error_response(404, f"Video with id '{video_id}' not found.", param="video_id", code="video_not_found")

    def _completed(self, job: EmulatedJob) -> bool:
        return job.finished and not job.failure and not job.canceled

    def video_json(self, job: EmulatedJob) -> dict[str, Any]:
        """The Video object in the job's current state."""
        failed = job.finished and job.failure is not None
        status = "failed" if failed else job.states[job.state_index]
        last = max(1, len(job.states) - 1)
        progress = {"queued": 0, "completed": 100}.get(status, int(100 * job.state_index / last))
        video: dict[str, Any] = {
            "id": job.id, "object": "video", "created_at": int(job.created_at), "status": status,
            "model": job.request["model"], "progress": 100 if failed else progress, "prompt": job.request["prompt"],
            "seconds": job.request["seconds"], "size": job.request["size"], "remixed_from_video_id": None,
            "completed_at": None, "expires_at": None, "error": None,
        }  # fmt: skip
        if status == "completed":
            video["completed_at"] = int(job.created_at) + 1
            video["expires_at"] = int(time.time()) - 1 if job.request.get("_expired") else int(job.created_at) + 3600
        if failed and job.failure:
            video["error"] = {"code": job.failure[0], "message": job.failure[1]}
        return video

    def video_list(self) -> list[dict[str, Any]]:
        """Every video `GET /v1/videos` would list, newest first (without advancing any of them)."""
        with self._lock:
            jobs = sorted((j for j in self.jobs.values() if not j.canceled), key=lambda j: j.created_at, reverse=True)
            return [self.video_json(j) for j in jobs]

    def _list(self, req: Recorded, match: re.Match[str]) -> Reply:
        order = (req.query.get("order") or ["desc"])[0]
        limit = int((req.query.get("limit") or ["20"])[0])
        after = (req.query.get("after") or [None])[0]
        with self._lock:
            jobs = sorted((j for j in self.jobs.values() if not j.canceled), key=lambda j: j.created_at,
                          reverse=order == "desc")
        if after is not None:
            ids = [j.id for j in jobs]
            jobs = jobs[ids.index(after) + 1:] if after in ids else []
        page = [self.video_json(j) for j in jobs[:limit]]
        return Reply(200, {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                           "last_id": page[-1]["id"] if page else None, "has_more": len(jobs) > limit})

    def _delete(self, req: Recorded, match: re.Match[str]) -> Reply:
        with self._lock:
            job = self.jobs.get(match["id"])
            if job is None or job.canceled:
                return self._not_found(match["id"])
            job.canceled = True  # deleted: gone from reads, lists and content
        return Reply(200, {"id": job.id, "object": "video.deleted", "deleted": True})

    def _content(self, req: Recorded, match: re.Match[str]) -> Reply:
        denied = self.check_auth(req)  # the download is an API call like any other
        if denied is not None:
            return denied
        with self._lock:
            job = self.jobs.get(match["id"])
        if job is None or job.canceled:
            return self._not_found(match["id"])
        if not self._completed(job):
            return self.error_response(400, "Video is not ready yet; wait for status 'completed'.", code="video_not_ready")
        if job.request.get("_expired"):
            return self.error_response(404, "The assets for this video have expired.", code="video_expired")
        variant = (req.query.get("variant") or ["video"])[0]
        width, height = (int(v) // SCALE for v in job.request["size"].split("x"))
        if variant == "video":
            return Reply(200, raw=sample_mp4(job.output_duration_s, width, height, FPS), headers={"Content-Type": "video/mp4"})
        if variant in ("thumbnail", "spritesheet"):
            fmt, mime = ("WEBP", "image/webp") if variant == "thumbnail" else ("JPEG", "image/jpeg")
            return Reply(200, raw=_still(width, height, fmt), headers={"Content-Type": mime})
        return self.error_response(400, f"Invalid value: '{variant}'. Supported values are: 'video', 'thumbnail' "
                                   "and 'spritesheet'.", param="variant", code="invalid_value")


def _form(req: Recorded) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """(text fields, file parts as (media type, bytes)) of a multipart or JSON body."""
    kind = req.headers.get("content-type", "")
    if kind.startswith("application/json"):
        try:
            body = json.loads(req.body or b"null")
        except ValueError:
            raise Invalid("We could not parse the JSON body of your request.", code=None) from None
        if not isinstance(body, dict):
            raise Invalid("The body of your request must be a JSON object.", code=None)
        fields = dict(body)
        for name in ("input_reference", "video"):
            if isinstance(fields.get(name), dict):  # JSON nests what the form spells name[key]
                fields.update({f"{name}[{k}]": v for k, v in fields.pop(name).items()})
        return fields, {}
    if not kind.startswith("multipart/form-data"):
        raise Invalid("Unsupported content type; send multipart/form-data or application/json.", code=None)
    header = f"Content-Type: {kind}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + req.body)
    fields: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts() if message.is_multipart() else []:
        name = str(part.get_param("name", header="content-disposition") or "")
        data = part.get_payload(decode=True) or b""
        if part.get_param("filename", header="content-disposition") is not None:
            files[name] = (part.get_content_type(), data)
        else:
            fields[name] = data.decode()
    return fields, files


def _image_size(data: bytes) -> str | None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return f"{im.size[0]}x{im.size[1]}"
    except Exception:  # noqa: BLE001 - not an image at all
        return None


def _still(width: int, height: int, fmt: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), "gray").save(out, format=fmt)
    return out.getvalue()
