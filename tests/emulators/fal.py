"""Loopback emulator of fal's queue API and storage (contract: fal-client 1.0 source, fal docs).

Speaks: `Authorization: Key <FAL_KEY>` (Bearer is refused); `POST /{endpoint_id}` with the app's
input JSON validated against `fal_schemas.APPS` (unknown endpoint 404, bad or unknown fields 422
with FastAPI `detail` lists; stricter than apps that ignore extra fields, on purpose); the submit
answer `{request_id, gateway_request_id, status, queue_position, response_url, status_url,
cancel_url}` whose URLs use only the app root (`owner/alias`); `GET .../requests/{id}/status`
IN_QUEUE (queue_position) -> IN_PROGRESS (logs when `logs=1`) -> COMPLETED (202 before, 200 at
the end); `GET .../requests/{id}` the output `{"video": {"url", ...}}` (400 while still running);
failures as COMPLETED with `error`/`error_type`, the result then answering the model's 422
(content_policy_violation) or a 500 with `X-Fal-Error-Type`; `PUT .../cancel` (202
CANCELLATION_REQUESTED, 400 ALREADY_COMPLETED, 404). Storage: `POST /storage/upload/initiate`
-> `{upload_url, file_url}` and a signed `PUT` (the signature is the credential); the fal_v3 CDN flow
(`POST /storage/auth/token`, `POST /files/upload` with the CDN bearer) for the SDK's default.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from .base import EmulatedJob, Emulator, Recorded, Reply
from .fal_schemas import APPS, check_field

API_KEY = "fal-key-id:fal-key-secret"
_ROOT = r"/(?P<root>(?:workflows/|comfy/)?[^/]+/[^/]+)"
_NOT_RESERVED = r"(?!storage/|files/|cdn/|upload-target/)"
#: error_type of a cancelled request [UNVERIFIED: the adapter and this emulator agree on it].
CANCELLED = ("request_cancelled", "Request was cancelled by the user")


def app_root(endpoint: str) -> str:
    parts = endpoint.split("/")
    return "/".join(parts[: 3 if parts[0] in ("workflows", "comfy") else 2])


class FalEmulator(Emulator):
    name = "fal"

    def __init__(self, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        #: file_url -> uploaded bytes (storage flow and CDN flow).
        self.uploads: dict[str, bytes] = {}
        self._slots: dict[str, tuple[str, str]] = {}  # upload key -> (file name, content type)
        self._cdn_tokens: set[str] = set()
        self.queue_position = 2
        self.route("POST", r"/storage/upload/initiate", "upload", self._initiate)
        self.route("PUT", r"/upload-target/(?P<key>[^/]+)", "upload_target", self._upload_target)
        self.route("POST", r"/storage/auth/token", "cdn_token", self._cdn_token)
        self.route("POST", r"/files/upload", "cdn_upload", self._cdn_upload)
        self.route("GET", r"/cdn/(?P<key>[^/]+)/(?P<name>[^/]+)", "cdn_file", self._cdn_file)
        self.route("GET", _ROOT + r"/requests/(?P<id>[^/]+)/status", "poll", self._status)
        self.route("PUT", _ROOT + r"/requests/(?P<id>[^/]+)/cancel", "cancel", self._cancel)
        self.route("GET", _ROOT + r"/requests/(?P<id>[^/]+)", "result", self._result)
        endpoint = r"(?P<endpoint>[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)+)"
        self.route("POST", "/" + _NOT_RESERVED + endpoint, "create", self._create)

    # --- contract checks ----------------------------------------------------------------------

    def check_auth(self, req: Recorded) -> Reply | None:
        if req.route == "cdn_file":
            return None  # fal's CDN links are public
        if req.route == "upload_target":
            # The signed URL is the credential. fal_client sends its Key header along (its shared
            # client carries it), so the target tolerates one; reelforge's adapter sends none.
            return None
        if req.route == "cdn_upload":
            token = req.headers.get("authorization", "").removeprefix("Bearer ")
            return None if token in self._cdn_tokens else self.error_response(401, "Invalid CDN token")
        if req.headers.get("authorization") != f"Key {self.api_key}":
            return self.error_response(401, "Invalid Key Authorization header format or credentials")
        return None

    def error_response(self, status: int, message: str) -> Reply:
        return Reply(status, {"detail": message}, headers={"x-fal-request-id": secrets.token_hex(8)})

    def _invalid(self, problems: list[tuple[str, str, str]]) -> Reply:
        detail = [{"loc": ["body", field], "msg": msg, "type": kind} for field, msg, kind in problems]
        return Reply(422, {"detail": detail}, headers={"x-fal-request-id": secrets.token_hex(8)})

    def url_ok(self, value: str) -> bool:
        if value.startswith("data:image/"):
            return True
        if value.startswith(f"{self.url}/cdn/"):
            return value in self.uploads
        return bool(re.match(r"https://[a-z0-9.-]+\.[a-z]{2,}/", value))

    # --- queue --------------------------------------------------------------------------------

    def _create(self, req: Recorded, match: re.Match[str]) -> Reply:
        endpoint = match["endpoint"]
        app = APPS.get(endpoint)
        if app is None:
            return self.error_response(404, f"Application '{endpoint}' not found")
        body = req.json if req.body else None
        if not isinstance(body, dict):
            return self._invalid([("body", "Input should be a valid dictionary", "dict_type")])
        problems = [(f, "Field required", "missing") for f in app["required"] if f not in body]
        for field, value in body.items():
            spec = app["fields"].get(field)
            if spec is None:
                problems.append((field, "Extra inputs are not permitted", "extra_forbidden"))
            elif (why := check_field(spec, value, self.url_ok)) is not None:
                problems.append((field, why, "value_error"))
        if problems:
            return self._invalid(problems)
        states = ["IN_QUEUE"] + ["IN_PROGRESS"] * (self.steps - 1) + ["COMPLETED"]
        job = self.new_job(endpoint, body, states)
        base = f"{self.url}/{app_root(endpoint)}/requests/{job.id}"
        return Reply(200, {"request_id": job.id, "gateway_request_id": job.id, "status": "IN_QUEUE",
                           "queue_position": self.queue_position, "response_url": base,
                           "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"})

    def _job(self, match: re.Match[str], *, advance: bool) -> EmulatedJob | None:
        job = self.read_job(match["id"]) if advance else self.jobs.get(match["id"])
        if job is None or app_root(job.kind) != match["root"]:
            return None
        return job

    def _failure(self, job: EmulatedJob) -> tuple[str, str] | None:
        if job.canceled:
            return CANCELLED
        return job.failure if job.finished else None

    def _status(self, req: Recorded, match: re.Match[str]) -> Reply:
        job = self._job(match, advance=True)
        if job is None:
            return self.error_response(404, "Request not found")
        logs = (req.query.get("logs") or ["0"])[0].lower() in ("1", "true")
        state = "COMPLETED" if job.canceled else job.states[job.state_index]
        answer: dict[str, Any] = {"status": state, "request_id": job.id}
        if state == "IN_QUEUE":
            answer["queue_position"] = max(0, self.queue_position - job.polls + 1)
        elif state == "IN_PROGRESS":
            answer["logs"] = [self._log(f"step {job.polls}")] if logs else None
        else:
            answer.update(logs=[self._log("done")] if logs else None, metrics={"inference_time": 1.25})
            failure = self._failure(job)
            if failure is not None:
                answer.update(error_type=failure[0], error=failure[1])
        return Reply(200 if state == "COMPLETED" else 202, answer)

    def _log(self, message: str) -> dict[str, str]:
        return {"timestamp": datetime.now(UTC).isoformat(), "level": "INFO", "message": message}

    def _result(self, req: Recorded, match: re.Match[str]) -> Reply:
        job = self._job(match, advance=False)
        if job is None:
            return self.error_response(404, "Request not found")
        if not (job.finished or job.canceled):
            return self.error_response(400, "Request is still in progress")
        failure = self._failure(job)
        if failure is not None:
            code, message = failure
            if code == "content_policy_violation":
                return Reply(422, {"detail": [{"loc": ["body", "prompt"], "msg": message, "type": code,
                                               "url": "https://docs.fal.ai/errors#content_policy_violation"}]})
            reply = self.error_response(500, message)
            reply.headers["X-Fal-Error-Type"] = code
            return reply
        video = {"url": self.output_url(job), "content_type": "video/mp4", "file_name": "output.mp4", "file_size": 12345}
        return Reply(200, {"video": video, "seed": job.request.get("seed", 42)})

    def _cancel(self, req: Recorded, match: re.Match[str]) -> Reply:
        with self._lock:
            job = self._job(match, advance=False)
            if job is None:
                return Reply(404, {"status": "NOT_FOUND"})
            if job.finished or job.canceled:
                return Reply(400, {"status": "ALREADY_COMPLETED"})
            job.canceled = True
        return Reply(202, {"status": "CANCELLATION_REQUESTED"})

    # --- storage ------------------------------------------------------------------------------

    def _initiate(self, req: Recorded, match: re.Match[str]) -> Reply:
        body = req.json if req.body else None
        if (req.query.get("storage_type") or [""])[0] != "gcs" or not isinstance(body, dict):
            return self.error_response(400, "Invalid storage request")
        if not body.get("file_name") or not body.get("content_type"):
            return self._invalid([("file_name", "Field required", "missing")])
        key = secrets.token_hex(8)
        self._slots[key] = (str(body["file_name"]), str(body["content_type"]))
        return Reply(200, {"upload_url": f"{self.url}/upload-target/{key}?X-Goog-Signature={secrets.token_hex(16)}",
                           "file_url": f"{self.url}/cdn/{key}/{body['file_name']}"})

    def _upload_target(self, req: Recorded, match: re.Match[str]) -> Reply:
        slot = self._slots.pop(match["key"], None)
        if slot is None or not req.body or req.headers.get("content-type") != slot[1]:
            return Reply(403, raw=b"<Error><Code>SignatureDoesNotMatch</Code></Error>",
                         headers={"Content-Type": "application/xml"})
        with self._lock:
            self.uploads[f"{self.url}/cdn/{match['key']}/{slot[0]}"] = req.body
        return Reply(200, raw=b"")

    def _cdn_token(self, req: Recorded, match: re.Match[str]) -> Reply:
        token = secrets.token_urlsafe(16)
        self._cdn_tokens.add(token)
        expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        return Reply(200, {"token": token, "token_type": "Bearer", "base_url": self.url, "expires_at": expires})

    def _cdn_upload(self, req: Recorded, match: re.Match[str]) -> Reply:
        if not req.body:
            return self.error_response(400, "Empty upload")
        key = secrets.token_hex(8)
        url = f"{self.url}/cdn/{key}/{req.headers.get('x-fal-file-name', 'upload.bin')}"
        with self._lock:
            self.uploads[url] = req.body
        return Reply(200, {"access_url": url})

    def _cdn_file(self, req: Recorded, match: re.Match[str]) -> Reply:
        data = self.uploads.get(f"{self.url}/cdn/{match['key']}/{match['name']}")
        if data is None:
            return self.error_response(404, "File not found")
        return Reply(200, raw=data, headers={"Content-Type": "application/octet-stream"})
