"""Loopback emulator of Replicate's HTTP API, held to the official `replicate` SDK.

Contract (docs/providers.md, Replicate section; replicate-python 1.0.x source):

* `POST /v1/models/{owner}/{name}/predictions` (official models) and `POST /v1/predictions` with
  a 64-hex `version` (community models); `Prefer: wait[=n]` holds the create up to n ≤ 60 s.
* `GET /v1/predictions/{id}`, `POST /v1/predictions/{id}/cancel`; statuses `starting`,
  `processing`, `succeeded`, `failed`, `canceled`; progress only as tqdm lines in `logs`.
* `POST /v1/files` (multipart part `content`) → a file object whose `urls.get` can be an input.
* Errors are RFC 7807 problem JSON `{"type","title","status","detail"}` (422 adds `invalid_fields`).
* `Authorization: Bearer <token>` (or the older `Token <token>`) on every API route.

Time: a job advances one state per status read, and `Prefer: wait` advances it by one state per
`seconds_per_step` emulated seconds, with emulated time running `time_scale` times real time.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import re
import secrets
import time
from typing import Any

from emulators.base import Emulator, EmulatedJob, Recorded, Reply

TOKEN = "r8_test_token"
STATES = ["starting", "processing", "processing", "succeeded"]
#: Largest data URI the emulator takes for a file input (the adapter uploads bigger files).
MAX_DATA_URI_BYTES = 256 * 1024

#: Input schemas: field → kind ("str", "int", "num", "bool", "file", or a tuple of allowed values).
_WAN = {"prompt": "str", "num_frames": "int", "frames_per_second": "int", "resolution": ("480p", "720p"),
        "aspect_ratio": ("16:9", "9:16"), "seed": "int", "go_fast": "bool"}
OFFICIAL: dict[str, dict[str, Any]] = {
    "minimax/video-01": {"fields": {"prompt": "str", "prompt_optimizer": "bool", "first_frame_image": "file",
                                    "subject_reference": "file"}, "required": ["prompt"], "output": "string"},
    "wan-video/wan-2.2-t2v-fast": {"fields": _WAN, "required": ["prompt"], "output": "string"},
    "wan-video/wan-2.2-i2v-fast": {"fields": {**_WAN, "image": "file", "last_image": "file"},
                                   "required": ["prompt", "image"], "output": "string"},
}
COMMUNITY: dict[str, dict[str, Any]] = {
    "8c47da666861d081eeb4d1261853087de23923a268a69b63febdf5dc1dee08e4": {
        "model": "lightricks/ltx-video", "required": ["prompt"], "output": "list",
        "fields": {"prompt": "str", "negative_prompt": "str", "image": "file", "aspect_ratio": "str",
                   "length": (97, 129, 161, 193, 225, 257), "target_size": "int", "model": "str", "steps": "int",
                   "cfg": "num", "image_noise_scale": "num"}},
    "3f0457e4619daac51203dedb472816fd4af51f3149fa7a9e0b5ffcf1b8172438": {
        "model": "stability-ai/stable-video-diffusion", "required": ["input_image"], "output": "string",
        "fields": {"input_image": "file", "video_length": ("14_frames_with_svd", "25_frames_with_svd_xt"),
                   "sizing_strategy": "str", "frames_per_second": "int", "motion_bucket_id": "int",
                   "cond_aug": "num", "decoding_t": "int", "seed": "int"}},
    "9f747673945c62801b13b84701c783929c0ee784e4748ec062204894dda1a351": {
        "model": "anotherjesse/zeroscope-v2-xl", "required": ["prompt"], "output": "list",
        "fields": {"prompt": "str", "negative_prompt": "str", "num_frames": "int", "fps": "int", "width": "int",
                   "height": "int", "seed": "int", "model": ("xl", "576w", "potat1", "animov-512x"),
                   "num_inference_steps": "int", "guidance_scale": "num", "init_video": "file"}},
    "78b3a6257e16e4b241245d65c8b2b81ea2e1ff7ed4c55306b511509ddbfd327a": {
        "model": "lucataco/hotshot-xl", "required": ["prompt"], "output": "string",
        "fields": {"prompt": "str", "negative_prompt": "str", "seed": "int", "width": "int", "height": "int",
                   "mp4": "bool", "steps": "int", "scheduler": "str", "video_length": "int", "video_duration": "int"}},
    "beecf59c4aee8d81bf04f0381033dfa10dc16e845b4ae00d281e2fa377e48a9f": {
        "model": "lucataco/animate-diff", "required": ["prompt"], "output": "string",
        "fields": {"prompt": "str", "n_prompt": "str", "seed": "int", "steps": "int", "guidance_scale": "num",
                   "path": "str", "motion_module": "str"}},
}

_TYPES = {"str": str, "int": int, "num": (int, float), "bool": bool}
_DATA_URI = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+);base64,(?P<data>[A-Za-z0-9+/=]+)")
_PROBLEMS = {
    400: ("Bad request", "bad-request"), 401: ("Unauthenticated", "unauthenticated"),
    402: ("Insufficient credit", "billing/insufficient-credit"), 403: ("Forbidden", "forbidden"),
    404: ("Not found", "not-found"), 422: ("Input validation failed", "validation"),
    429: ("Request was throttled", "rate-limit"), 500: ("Internal server error", "internal"),
    502: ("Bad gateway", "internal"), 503: ("Service unavailable", "internal"), 504: ("Gateway timeout", "internal"),
}  # fmt: skip


def problem(status: int, detail: str, **extra: Any) -> Reply:
    """An RFC 7807 problem reply, as Replicate's API sends them."""
    title, kind = _PROBLEMS.get(status, ("Error", "error"))
    body = {"type": f"https://replicate.com/docs/reference/http#{kind}", "title": title, "status": status,
            "detail": detail, **extra}
    return Reply(status, body, headers={"Content-Type": "application/problem+json"})


class ReplicateEmulator(Emulator):
    name = "replicate"
    #: Emulated seconds one state step takes while a create waits (`Prefer: wait`).
    seconds_per_step = 2.0
    #: Real seconds per emulated second (keeps `Prefer: wait=5` at 0.1 s of wall time).
    time_scale = 0.02

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        self.files: dict[str, dict[str, Any]] = {}
        self.route("POST", r"/v1/models/(?P<owner>[^/]+)/(?P<name>[^/]+)/predictions", "create", self._create_official)
        self.route("POST", r"/v1/predictions", "create", self._create_versioned)
        self.route("GET", r"/v1/predictions", "list", self._list)
        self.route("GET", r"/v1/predictions/(?P<id>[^/]+)", "poll", self._get)
        self.route("POST", r"/v1/predictions/(?P<id>[^/]+)/cancel", "cancel", self._cancel)
        self.route("GET", r"/v1/models/(?P<owner>[^/]+)/(?P<name>[^/]+)/versions/(?P<id>[0-9a-f]{64})", "version",
                   self._version)
        self.route("POST", r"/v1/files", "upload", self._upload)
        self.route("GET", r"/v1/files/(?P<id>[^/]+)", "file", self._file)

    def new_id(self) -> str:
        return secrets.token_hex(13)[:26]  # Replicate ids are 26-char lowercase base32-ish strings

    def fail_with(self, code: str, message: str) -> None:
        """End the next prediction as `failed` with Replicate's error text, e.g. ('E005', 'flagged as sensitive')."""
        self.fail_next = (code, message)

    def check_auth(self, req: Recorded) -> Reply | None:
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        if scheme not in ("Bearer", "Token") or not token:
            return problem(401, "You did not pass an authentication token")
        if token != self.token:
            return problem(401, "Invalid token.")
        return None

    def error_response(self, status: int, message: str) -> Reply:
        return problem(status, message)

    # --- creates ---------------------------------------------------------------------------------

    def _create_official(self, req: Recorded, match: re.Match[str]) -> Reply:
        ref = f"{match['owner']}/{match['name']}"
        schema = OFFICIAL.get(ref)
        if schema is None:
            return problem(404, f"Model {ref} not found, or it is not an official model: use a version.")
        return self._create(req, ref, "0" * 64, schema)

    def _create_versioned(self, req: Recorded, match: re.Match[str]) -> Reply:
        body = _body(req)
        version = body.get("version") if isinstance(body, dict) else None
        schema = COMMUNITY.get(version) if isinstance(version, str) else None
        if schema is None:
            return problem(422, "Invalid version or not permitted",
                           invalid_fields=[{"type": "invalid", "field": "version", "description": "unknown version"}])
        return self._create(req, schema["model"], version, schema)

    def _create(self, req: Recorded, model: str, version: str, schema: dict[str, Any]) -> Reply:
        body = _body(req)
        if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
            return problem(422, "- input: input is required",
                           invalid_fields=[{"type": "required", "field": "input", "description": "input is required"}])
        invalid = self._invalid_fields(body["input"], schema)
        if invalid:
            detail = "".join(f"- {f['field']}: {f['description']}\n" for f in invalid)
            return problem(422, detail, invalid_fields=invalid)
        job = self.new_job("prediction", {"model": model, "version": version, "input": body["input"],
                                          "output": schema["output"]}, STATES)
        self._hold_for_wait(req, job)
        return Reply(201, self._view(job))

    def _invalid_fields(self, inputs: dict[str, Any], schema: dict[str, Any]) -> list[dict[str, str]]:
        fields: dict[str, Any] = schema["fields"]
        problems = [{"type": "required", "field": f"input.{name}", "description": f"{name} is required"}
                    for name in schema["required"] if name not in inputs]
        for name, value in inputs.items():
            kind = fields.get(name)
            why = _why_invalid(kind, value) if name in fields else "Additional property is not allowed"
            if why is None and kind == "file":
                why = self._file_problem(value)
            if why:
                problems.append({"type": "invalid", "field": f"input.{name}", "description": why})
        return problems

    def _file_problem(self, value: str) -> str | None:
        if value.startswith(f"{self.url}/v1/files/"):
            return None if value.rsplit("/", 1)[-1] in self.files else "file not found"
        if value.startswith(("http://", "https://")):
            return None
        match = _DATA_URI.fullmatch(value)
        if match is None:
            return "Does not match format 'uri'"
        if len(match["data"]) * 3 // 4 > MAX_DATA_URI_BYTES:
            return f"data URI larger than {MAX_DATA_URI_BYTES} bytes; upload the file instead"
        return None

    def _hold_for_wait(self, req: Recorded, job: EmulatedJob) -> None:
        """`Prefer: wait[=n]`: hold the answer up to n emulated seconds while the job advances."""
        match = re.fullmatch(r"\s*wait(?:=(\d+))?\s*", req.headers.get("prefer", ""))
        if match is None or job.held:
            return
        wait = min(60, int(match[1] or 60))
        steps = min(len(job.states) - 1, int(wait // self.seconds_per_step))
        with self._lock:
            if steps:  # as if read once, then `steps` more times
                job.polls = max(job.polls, 1) + steps
        held = steps * self.seconds_per_step if job.finished else wait
        time.sleep(held * self.time_scale)

    # --- reads, cancel, files --------------------------------------------------------------------

    def _list(self, req: Recorded, match: re.Match[str]) -> Reply:
        """`GET /v1/predictions`: newest first, a page of 100 with a `next` cursor URL (the API's shape)."""
        with self._lock:
            jobs = sorted(self.jobs.values(), key=lambda j: j.created_at, reverse=True)
        start = int((req.query.get("cursor") or ["0"])[0])
        page = jobs[start:start + 100]
        more = start + 100 < len(jobs)
        return Reply(200, {"next": f"{self.url}/v1/predictions?cursor={start + 100}" if more else None,
                           "previous": None, "results": [self._view(job) for job in page]})

    def _get(self, req: Recorded, match: re.Match[str]) -> Reply:
        job = self.read_job(match["id"])
        if job is None:
            return problem(404, "Prediction not found")
        return Reply(200, self._view(job))

    def _cancel(self, req: Recorded, match: re.Match[str]) -> Reply:
        with self._lock:
            job = self.jobs.get(match["id"])
            if job is not None and not job.finished:
                job.canceled = True
        if job is None:
            return problem(404, "Prediction not found")
        return Reply(200, self._view(job))

    def _version(self, req: Recorded, match: re.Match[str]) -> Reply:
        schema = COMMUNITY.get(match["id"])
        if schema is None or schema["model"] != f"{match['owner']}/{match['name']}":
            return problem(404, "Version not found")
        uri = {"type": "string", "format": "uri"}
        output = {"type": "array", "items": uri} if schema["output"] == "list" else uri
        inputs = {"type": "object", "required": schema["required"], "properties": {k: {} for k in schema["fields"]}}
        return Reply(200, {"id": match["id"], "created_at": "2024-01-01T00:00:00.000000Z", "cog_version": "0.9.4",
                           "openapi_schema": {"components": {"schemas": {"Input": inputs, "Output": output}}}})

    def _upload(self, req: Recorded, match: re.Match[str]) -> Reply:
        head = f"Content-Type: {req.headers.get('content-type', '')}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + req.body)
        part = next((p for p in message.iter_parts() if p.get_param("name", header="content-disposition") == "content"),
                    None) if message.is_multipart() else None
        if part is None:
            return problem(400, "multipart form with a 'content' file part is required")
        data = part.get_payload(decode=True) or b""
        file_id = secrets.token_hex(12)
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        record = {"id": file_id, "name": part.get_filename() or "file", "content_type": part.get_content_type(),
                  "size": len(data), "etag": secrets.token_hex(16), "checksums": {}, "metadata": {},
                  "created_at": now, "expires_at": now, "urls": {"get": f"{self.url}/v1/files/{file_id}"}}
        with self._lock:
            self.files[file_id] = {**record, "_data": data}
        return Reply(201, record)

    def _file(self, req: Recorded, match: re.Match[str]) -> Reply:
        record = self.files.get(match["id"])
        if record is None:
            return problem(404, "File not found")
        return Reply(200, {k: v for k, v in record.items() if k != "_data"})

    def uploaded_bytes(self, file_id: str) -> bytes:
        return self.files[file_id]["_data"]

    # --- the prediction object -------------------------------------------------------------------

    def _view(self, job: EmulatedJob) -> dict[str, Any]:
        status, error, output = STATES[job.state_index], None, None
        if job.canceled:
            status = "canceled"
        elif job.finished and job.failure is not None:
            code, message = job.failure
            status, error = "failed", message if code in message else f"{message} ({code})"
        elif status == "succeeded":
            url = self.output_url(job)
            output = [url] if job.request["output"] == "list" else url
        base = f"{self.url}/v1/predictions/{job.id}"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(job.created_at))
        return {
            "id": job.id, "model": job.request["model"], "version": job.request["version"], "input": job.request["input"],
            "status": status, "output": output, "error": error, "logs": _logs(job, status), "data_removed": False,
            "metrics": {"predict_time": 1.5} if status == "succeeded" else {},
            "created_at": stamp, "started_at": stamp if status != "starting" else None,
            "completed_at": stamp if status in ("succeeded", "failed", "canceled") else None,
            "urls": {"get": base, "cancel": f"{base}/cancel", "web": f"https://replicate.com/p/{job.id}"},
        }


def _body(req: Recorded) -> Any:
    try:
        return req.json
    except ValueError:
        return None


def _why_invalid(kind: Any, value: Any) -> str | None:
    if isinstance(kind, tuple):
        return None if value in kind else f"{value!r} is not one of {list(kind)}"
    if kind == "file":
        return None if isinstance(value, str) else "Does not match format 'uri'"
    expected = _TYPES[kind]
    if isinstance(value, bool) and kind != "bool":
        return f"Invalid type. Expected: {kind}, given: boolean"
    return None if isinstance(value, expected) else f"Invalid type. Expected: {kind}, given: {type(value).__name__}"


def _logs(job: EmulatedJob, status: str) -> str:
    """tqdm-style progress lines, which is how Replicate models report progress (the SDK parses them)."""
    if status == "starting":
        return ""
    total = 20
    done = total if status == "succeeded" else round(total * job.progress)
    lines = [f"{round(100 * step / total):3d}%|{'#' * (step // 2):<10}| {step}/{total}" for step in (0, done)]
    return "Loading pipeline...\n" + "\n".join(lines) + "\n"


def decode_data_uri(value: str) -> tuple[str, bytes]:
    """(mime, bytes) of a data URI an adapter sent (tests check what arrived)."""
    match = _DATA_URI.fullmatch(value)
    assert match is not None, "not a data URI"
    return match["mime"], base64.b64decode(match["data"])
