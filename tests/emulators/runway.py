"""Loopback emulator of Runway's Developer API (contract: runwayml SDK 5.24 and providers.md §1).

Speaks: bearer auth plus the required `X-Runway-Version`; camelCase create bodies validated per
model (ratio enums, duration rules, promptImage positions, URI forms); `{"id"}` on create; task
objects PENDING -> RUNNING (progress) -> SUCCEEDED with signed-looking output links, or FAILED
with `failure`/`failureCode`; DELETE cancels; the ephemeral upload flow (`POST /v1/uploads`, then
a presigned multipart form POST that must carry no bearer); errors as `{"error": "..."}`.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from .base import EmulatedJob, Emulator, Recorded, Reply

VERSION = "2024-11-06"
_VEO_RATIOS = ["1280:720", "720:1280", "1080:1920", "1920:1080"]
_GEN4_IMAGE_RATIOS = ["1280:720", "720:1280", "1104:832", "960:960", "832:1104", "1584:672"]
# endpoint -> model -> rules (ratios, durations, keyframe positions, whether promptText is required)
MODELS: dict[str, dict[str, dict[str, Any]]] = {
    "text_to_video": {
        "gen4.5": {"ratios": ["1280:720", "720:1280"], "durations": range(2, 11), "prompt": True, "need_duration": True},
        "veo3.1": {"ratios": _VEO_RATIOS, "durations": [4, 6, 8], "prompt": True},
        "veo3.1_fast": {"ratios": _VEO_RATIOS, "durations": [4, 6, 8], "prompt": True},
        "veo3": {"ratios": _VEO_RATIOS, "durations": [8], "prompt": True, "need_duration": True},
    },
    "image_to_video": {
        "gen4.5": {"ratios": _GEN4_IMAGE_RATIOS, "durations": range(2, 11), "prompt": True, "positions": ["first"]},
        "gen4_turbo": {"ratios": _GEN4_IMAGE_RATIOS, "durations": range(2, 11), "positions": ["first"]},
        "veo3.1": {"ratios": _VEO_RATIOS, "durations": [4, 6, 8], "positions": ["first", "last"]},
        "veo3.1_fast": {"ratios": _VEO_RATIOS, "durations": [4, 6, 8], "positions": ["first", "last"]},
        "veo3": {"ratios": _VEO_RATIOS, "durations": [8], "positions": ["first"]},
    },
    "video_to_video": {"aleph2": {}},
}
CREDITS_PER_SECOND = {"gen4.5": 12, "gen4_turbo": 5, "veo3.1": 20, "veo3.1_fast": 10, "veo3": 40, "aleph2": 28}
DATA_URI_MAX = 5 * 1024 * 1024


class BadParam(Exception):
    def __init__(self, field: str, why: str = "") -> None:
        super().__init__(f"Invalid parameter '{field}'{': ' + why if why else ''}")


class RunwayEmulator(Emulator):
    name = "runway"

    def __init__(self, api_key: str = "key_test_runway") -> None:
        super().__init__()
        self.api_key = api_key
        self.credits = 10_000
        #: Tasks running at once before new ones start THROTTLED (tier 1 allows 1, tier 5 allows 20).
        self.max_concurrency = 20
        #: runway:// URI -> uploaded bytes (the ephemeral upload flow).
        self.uploads: dict[str, bytes] = {}
        self.route("POST", r"/v1/(?P<endpoint>text_to_video|image_to_video|video_to_video)", "create", self._create)
        self.route("GET", r"/v1/tasks/(?P<id>[^/]+)", "poll", self._task)
        self.route("DELETE", r"/v1/tasks/(?P<id>[^/]+)", "cancel", self._delete)
        self.route("POST", r"/v1/uploads", "upload", self._upload_slot)
        self.route("POST", r"/upload-target/(?P<key>[^/]+)", "upload_target", self._upload_target)
        self.route("GET", r"/v1/organization", "organization", self._organization)

    # --- contract checks ----------------------------------------------------------------------

    def check_auth(self, req: Recorded) -> Reply | None:
        if req.route == "upload_target":
            # A presigned form is its own credential; S3 refuses a second auth mechanism.
            if "authorization" in req.headers:
                return Reply(400, raw=b"<Error><Code>InvalidArgument</Code></Error>", headers={"Content-Type": "application/xml"})
            return None
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error_response(401, "Invalid API key")
        if req.headers.get("x-runway-version") != VERSION:
            return self.error_response(400, "Missing or unsupported X-Runway-Version header")
        return None

    def error_response(self, status: int, message: str) -> Reply:
        return Reply(status, {"error": message})

    # --- routes -------------------------------------------------------------------------------

    def _create(self, req: Recorded, match: re.Match[str]) -> Reply:
        try:
            body = req.json
            duration = self._validate(match["endpoint"], body)
        except BadParam as exc:
            return self.error_response(400, str(exc))
        except ValueError:
            return self.error_response(400, "Request body is not valid JSON")
        credits = CREDITS_PER_SECOND[body["model"]] * duration
        if credits > self.credits:
            return self.error_response(400, "You do not have enough credits to run this task.")
        # Over the tier's concurrency a task is queued as THROTTLED first, not refused.
        busy = sum(1 for j in list(self.jobs.values()) if not j.finished) >= self.max_concurrency
        states = ["THROTTLED"] * busy + ["PENDING"] + ["RUNNING"] * (self.steps - 1) + ["SUCCEEDED"]
        job = self.new_job(match["endpoint"], body, states, duration)
        return Reply(200, {"id": job.id})

    def _validate(self, endpoint: str, body: Any) -> float:
        if not isinstance(body, dict):
            raise BadParam("body")
        rules = MODELS[endpoint].get(body.get("model", ""))
        if rules is None:
            raise BadParam("model", f"expected one of {', '.join(MODELS[endpoint])}")
        prompt = body.get("promptText")
        if prompt is not None and (not isinstance(prompt, str) or not prompt or len(prompt) > 1000):
            raise BadParam("promptText")
        if rules.get("prompt") and not prompt:
            raise BadParam("promptText", "required for this model")
        if endpoint == "video_to_video":
            self._check_uri(body.get("videoUri"), "videoUri", "video")
            return 2.0
        if body.get("ratio") not in rules["ratios"]:
            raise BadParam("ratio")
        duration = body.get("duration")
        if duration is None and rules.get("need_duration"):
            raise BadParam("duration", "required")
        if duration is not None and (not isinstance(duration, int) or duration not in rules["durations"]):
            raise BadParam("duration")
        if endpoint == "image_to_video":
            self._check_prompt_image(body.get("promptImage"), rules["positions"])
        return float(duration or max(rules["durations"]))

    def _check_prompt_image(self, value: Any, positions: list[str]) -> None:
        if isinstance(value, str):
            self._check_uri(value, "promptImage", "image")
            return
        if not isinstance(value, list) or not value:
            raise BadParam("promptImage")
        seen = [item.get("position") for item in value if isinstance(item, dict)]
        if len(seen) != len(value) or any(p not in positions for p in seen) or len(set(seen)) != len(seen):
            raise BadParam("promptImage", f"position must be one of {', '.join(positions)}")
        if "first" not in seen:
            raise BadParam("promptImage", "a 'first' image is required")
        for item in value:
            self._check_uri(item.get("uri"), "promptImage", "image")

    def _check_uri(self, uri: Any, field: str, kind: str) -> None:
        if not isinstance(uri, str) or len(uri) > 2048 and not uri.startswith("data:"):
            raise BadParam(field)
        if uri.startswith("data:"):
            head, _, payload = uri.partition(",")
            if not head.startswith(f"data:{kind}/") or not head.endswith(";base64") or len(payload) * 3 // 4 > DATA_URI_MAX:
                raise BadParam(field, f"expected a base64 {kind} data URI up to 5MB")
            return
        if uri.startswith("runway://"):
            if uri not in self.uploads:
                raise BadParam(field, "unknown upload")
            return
        if not re.match(r"https://[a-z0-9.-]+\.[a-z]{2,}/", uri):
            raise BadParam(field, "URLs must be HTTPS with a domain name")

    def _task(self, req: Recorded, match: re.Match[str]) -> Reply:
        job = self.read_job(match["id"])
        if job is None:
            return self.error_response(404, "Task not found")
        return Reply(200, self.task_json(job))

    def task_json(self, job: EmulatedJob) -> dict[str, Any]:
        """The task object for the job's current state (terminal states carry `cost`)."""
        created = datetime.fromtimestamp(job.created_at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        credits = int(CREDITS_PER_SECOND[job.request["model"]] * job.output_duration_s)
        if job.canceled:
            return {"id": job.id, "createdAt": created, "status": "CANCELLED", "cost": {"credits": 0}}
        status = job.states[job.state_index]
        if job.finished and job.failure:
            code, reason = job.failure
            refunded = 0 if code.startswith("SAFETY.OUTPUT") or code.startswith("INTERNAL") else credits
            return {"id": job.id, "createdAt": created, "status": "FAILED", "failure": reason, "failureCode": code,
                    "cost": {"credits": refunded}}  # fmt: skip
        task: dict[str, Any] = {"id": job.id, "createdAt": created, "status": status}
        if status == "SUCCEEDED":
            task.update(output=[self.output_url(job)], cost={"credits": credits})
        else:
            task["estimatedCost"] = {"credits": float(credits)}
        if status == "RUNNING":
            task["progress"] = job.progress
        return task

    def _delete(self, req: Recorded, match: re.Match[str]) -> Reply:
        with self._lock:
            job = self.jobs.get(match["id"])
            if job is None:
                return self.error_response(404, "Task not found")
            if job.finished:
                del self.jobs[job.id]  # DELETE on a finished task deletes it and its outputs
            else:
                job.canceled = True
        return Reply(204)

    def _upload_slot(self, req: Recorded, match: re.Match[str]) -> Reply:
        body = req.json if req.body else None
        if not isinstance(body, dict) or not body.get("filename") or body.get("type") != "ephemeral":
            return self.error_response(400, "Invalid parameter 'filename'")
        key = secrets.token_hex(8)
        fields = {"key": f"uploads/{key}/{body['filename']}", "policy": secrets.token_urlsafe(16), "x-amz-signature": "sig"}
        return Reply(200, {"uploadUrl": f"{self.url}/upload-target/{key}", "fields": fields, "runwayUri": f"runway://{key}"})

    def _upload_target(self, req: Recorded, match: re.Match[str]) -> Reply:
        parts = _multipart(req)
        if "file" not in parts or "policy" not in parts or not parts["file"]:
            return Reply(400, raw=b"<Error><Code>MalformedPOSTRequest</Code></Error>", headers={"Content-Type": "application/xml"})
        if len(parts["file"]) < 512:
            return Reply(400, raw=b"<Error><Code>EntityTooSmall</Code></Error>", headers={"Content-Type": "application/xml"})
        with self._lock:
            self.uploads[f"runway://{match['key']}"] = parts["file"]
        return Reply(204)

    def _organization(self, req: Recorded, match: re.Match[str]) -> Reply:
        return Reply(200, {"creditBalance": self.credits, "tier": {"maxMonthlyCreditSpend": 100000, "models": {}},
                           "usage": {"models": {}}})  # fmt: skip


def _multipart(req: Recorded) -> dict[str, bytes]:
    """Form fields and file bytes of a multipart/form-data body."""
    header = f"Content-Type: {req.headers.get('content-type', '')}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + req.body)
    parts: dict[str, bytes] = {}
    for part in message.iter_parts() if message.is_multipart() else []:
        name = part.get_param("name", header="content-disposition")
        if name:
            parts[str(name)] = part.get_payload(decode=True) or b""
    return parts
