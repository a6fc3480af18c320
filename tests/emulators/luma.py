"""Loopback emulator of Luma's two video APIs (contracts: lumaai SDK 1.21, luma-agents SDK 0.3, providers.md §2).

* Dream Machine under `/dream-machine/v1`: `POST /generations/video` (and the older
  `POST /generations`) answer 201 with the whole Generation; `GET /generations/{id}` moves
  queued -> dreaming -> completed (`assets.video`) or failed (`failure_reason`); `DELETE` removes;
  `GET /generations/concepts/list`; `GET /credits`. Keyframes are validated: image refs need an
  http(s) URL (no data URIs), generation refs must name an existing completed generation.
* Agents under `/agents/v1`: `POST /generations` (prompt required, `video` options, image refs
  with exactly one of url/data+media_type/generation_id), states queued -> processing ->
  completed (`output[]`) or failed (`failure_code`, `failure_reason`).

Errors are FastAPI-style `{"detail": ...}` (422 carries the validation list).
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any

from .base import EmulatedJob, Emulator, Recorded, Reply

DM = "/dream-machine/v1"
AGENTS = "/agents/v1"
ASPECTS = ["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"]
AGENTS_ASPECTS = ["9:16", "3:4", "1:1", "4:3", "16:9", "21:9"]
CONCEPTS = [
    "push_in", "pull_out", "pan_left", "pan_right", "tilt_up", "tilt_down", "truck_left", "truck_right",
    "pedestal_up", "pedestal_down", "zoom_in", "zoom_out", "orbit_left", "orbit_right", "crane_up", "crane_down",
    "dolly_zoom", "handheld", "static", "aerial",
]  # fmt: skip


class Invalid(Exception):
    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field, self.status = field, status


class LumaEmulator(Emulator):
    name = "luma"

    def __init__(self, api_key: str = "luma-test-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.credit_balance = 100_000.0
        self.route("POST", rf"{DM}/generations(/video)?", "create", self._dm_create)
        self.route("GET", rf"{DM}/generations/concepts/list", "concepts", lambda r, m: Reply(200, CONCEPTS))
        self.route("GET", rf"{DM}/generations", "list", self._dm_list)
        self.route("GET", rf"{DM}/generations/(?P<id>[0-9a-f-]{{36}})", "poll", self._dm_get)
        self.route("DELETE", rf"{DM}/generations/(?P<id>[0-9a-f-]{{36}})", "cancel", self._dm_delete)
        self.route("GET", rf"{DM}/credits", "credits", lambda r, m: Reply(200, {"credit_balance": self.credit_balance}))
        self.route("POST", rf"{AGENTS}/generations", "create", self._agents_create)
        self.route("GET", rf"{AGENTS}/generations/(?P<id>[0-9a-f-]{{36}})", "poll", self._agents_get)

    @property
    def dream_machine_url(self) -> str:
        return self.url + DM

    @property
    def agents_url(self) -> str:
        return self.url + AGENTS

    def check_auth(self, req: Recorded) -> Reply | None:
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error_response(401, "Invalid API key")
        return None

    def error_response(self, status: int, message: str) -> Reply:
        return Reply(status, {"detail": message})

    def _invalid(self, exc: Invalid) -> Reply:
        if exc.status == 422:
            return Reply(422, {"detail": [{"loc": ["body", *exc.field.split(".")], "msg": str(exc), "type": "value_error"}]})
        return self.error_response(exc.status, str(exc))

    # --- Dream Machine --------------------------------------------------------------------------

    def _dm_create(self, req: Recorded, match: re.Match[str]) -> Reply:
        return self._start(req, "dream_machine", "dreaming", self._dm_validate, self.dm_generation)

    def _start(self, req: Recorded, kind: str, running: str, validate: Any, render: Any) -> Reply:
        """Validate a create body, open a job moving queued -> `running` -> completed, answer 201."""
        try:
            body = req.json
            seconds = validate(body)
        except Invalid as exc:
            return self._invalid(exc)
        except ValueError:
            return self.error_response(400, "Request body is not valid JSON")
        if self.credit_balance <= 0:
            return self.error_response(400, "Insufficient credits")
        job = self.new_job(kind, body, ["queued"] + [running] * (self.steps - 1) + ["completed"], seconds)
        return Reply(201, render(job))

    def _dm_validate(self, body: Any) -> float:
        if not isinstance(body, dict):
            raise Invalid("body", "Input should be a valid dictionary")
        if body.get("model") not in ("ray-2", "ray-flash-2"):
            raise Invalid("model", "Input should be 'ray-2' or 'ray-flash-2'")
        if body.get("aspect_ratio", "16:9") not in ASPECTS:
            raise Invalid("aspect_ratio", f"Input should be one of {', '.join(ASPECTS)}")
        if body.get("resolution", "720p") not in ("540p", "720p", "1080p", "4k"):
            raise Invalid("resolution", "Input should be '540p', '720p', '1080p' or '4k'")
        duration = body.get("duration", "5s")
        if duration not in ("5s", "9s"):
            raise Invalid("duration", "Input should be '5s' or '9s'")
        for concept in body.get("concepts") or []:
            if not isinstance(concept, dict) or concept.get("key") not in CONCEPTS:
                raise Invalid("concepts", f"Unknown concept {concept!r}", status=400)
        keyframes = body.get("keyframes") or {}
        for slot, frame in keyframes.items():
            self._check_keyframe(slot, frame)
        if not body.get("prompt") and not keyframes:
            raise Invalid("prompt", "A prompt is required without keyframes", status=400)
        return float(duration[:-1])

    def _check_keyframe(self, slot: str, frame: Any) -> None:
        if slot not in ("frame0", "frame1") or not isinstance(frame, dict):
            raise Invalid(f"keyframes.{slot}", "Keyframes are frame0 and frame1 objects")
        if frame.get("type") == "image":
            if not re.match(r"https?://", str(frame.get("url", ""))):
                raise Invalid(f"keyframes.{slot}.url", "Image keyframes need an http(s) URL", status=400)
        elif frame.get("type") == "generation":
            earlier = self.jobs.get(str(frame.get("id")))
            if earlier is None or earlier.failure or not earlier.finished or earlier.canceled:
                raise Invalid(f"keyframes.{slot}.id", f"Generation {frame.get('id')} is not a completed generation", 400)
        else:
            raise Invalid(f"keyframes.{slot}.type", "Input tag should be 'image' or 'generation'")

    def _dm_list(self, req: Recorded, match: re.Match[str]) -> Reply:
        """`GET /generations?limit&offset`: newest first (the lumaai SDK's GenerationListResponse)."""
        limit = int((req.query.get("limit") or ["10"])[0])
        offset = int((req.query.get("offset") or ["0"])[0])
        with self._lock:
            jobs = sorted((j for j in self.jobs.values() if not j.canceled and j.kind != "agents"),
                          key=lambda j: j.created_at, reverse=True)
        page = jobs[offset:offset + limit]
        return Reply(200, {"generations": [self.dm_generation(j) for j in page], "count": len(page),
                           "has_more": offset + limit < len(jobs), "limit": limit, "offset": offset})

    def _dm_get(self, req: Recorded, match: re.Match[str]) -> Reply:
        job = self.read_job(match["id"])
        if job is None or job.canceled:
            return self.error_response(404, "Generation not found")
        return Reply(200, self.dm_generation(job))

    def dm_generation(self, job: EmulatedJob) -> dict[str, Any]:
        state = "failed" if job.finished and job.failure else job.states[job.state_index]
        generation: dict[str, Any] = {
            "id": job.id, "generation_type": "video", "state": state, "failure_reason": None,
            "created_at": _iso(job.created_at), "model": job.request["model"], "request": job.request,
            "assets": {"video": None, "image": None, "progress_video": None},
        }  # fmt: skip
        if state == "completed":
            generation["assets"] = {"video": self.output_url(job), "image": None, "progress_video": None}
        if state == "failed":
            generation["failure_reason"] = job.failure[1] if job.failure else "unknown"
        return generation

    def _dm_delete(self, req: Recorded, match: re.Match[str]) -> Reply:
        with self._lock:
            job = self.jobs.get(match["id"])
            if job is None or job.canceled:
                return self.error_response(404, "Generation not found")
            job.canceled = True
        return Reply(204)

    # --- Agents -------------------------------------------------------------------------------

    def _agents_create(self, req: Recorded, match: re.Match[str]) -> Reply:
        return self._start(req, "agents", "processing", self._agents_validate, self.agents_generation)

    def _agents_validate(self, body: Any) -> float:
        if not isinstance(body, dict):
            raise Invalid("body", "Input should be a valid dictionary")
        if body.get("model") != "ray-3.2" or body.get("type") != "video":
            raise Invalid("model", "Video generation needs model 'ray-3.2' and type 'video'")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not 1 <= len(prompt) <= 6000:
            raise Invalid("prompt", "String should have 1 to 6000 characters")
        if body.get("aspect_ratio", "16:9") not in AGENTS_ASPECTS:
            raise Invalid("aspect_ratio", f"Input should be one of {', '.join(AGENTS_ASPECTS)}")
        video = body.get("video") or {}
        duration = video.get("duration", "5s")
        if duration not in ("5s", "10s"):
            raise Invalid("video.duration", "Input should be '5s' or '10s'")
        if video.get("resolution", "720p") not in ("360p", "540p", "720p", "1080p"):
            raise Invalid("video.resolution", "Input should be '360p', '540p', '720p' or '1080p'")
        if video.get("loop") and (duration == "10s" or "end_frame" in video):
            raise Invalid("video.loop", "loop is not supported with 10s or end_frame", status=400)
        for slot in ("start_frame", "end_frame"):
            if slot in video:
                self._check_image_ref(f"video.{slot}", video[slot])
        return float(duration[:-1])

    def _check_image_ref(self, field: str, ref: Any) -> None:
        given = [k for k in ("url", "data", "generation_id", "file_id") if isinstance(ref, dict) and ref.get(k)]
        if len(given) != 1:
            raise Invalid(field, "Provide exactly one of url, data, generation_id or file_id")
        if given == ["data"]:
            if not str(ref.get("media_type", "")).startswith("image/"):
                raise Invalid(f"{field}.media_type", "media_type is required with data")
            try:
                base64.b64decode(ref["data"], validate=True)
            except (binascii.Error, ValueError):
                raise Invalid(f"{field}.data", "data is not valid base64") from None
        if given == ["generation_id"]:
            earlier = self.jobs.get(str(ref["generation_id"]))
            if earlier is None or earlier.kind != "agents" or not earlier.finished or earlier.failure:
                raise Invalid(f"{field}.generation_id", "Unknown or unfinished generation", status=400)

    def _agents_get(self, req: Recorded, match: re.Match[str]) -> Reply:
        job = self.read_job(match["id"])
        if job is None:
            return self.error_response(404, "Generation not found")
        return Reply(200, self.agents_generation(job))

    def agents_generation(self, job: EmulatedJob) -> dict[str, Any]:
        failed = job.finished and job.failure is not None
        state = "failed" if failed else job.states[job.state_index]
        generation: dict[str, Any] = {
            "id": job.id, "created_at": _iso(job.created_at), "model": "ray-3.2", "type": "video", "state": state,
            "failure_code": None, "failure_reason": None, "output": [],
        }  # fmt: skip
        if state == "completed":
            generation["output"] = [{"type": "video", "url": self.output_url(job)}]
        if failed and job.failure:
            generation["failure_code"], generation["failure_reason"] = job.failure
        return generation


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")
