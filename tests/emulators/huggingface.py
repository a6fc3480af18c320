"""Loopback emulator of the Hugging Face Inference Providers router's video routes.

Contract (huggingface_hub 2.4 `inference/_providers/{_common,fal_ai,together,replicate}.py`;
`providers.md` §5, §6, §9): every route takes `Authorization: Bearer hf_...` (the router answers a
bad token with 401 `{"error": ...}` and spent included credits with 402 [message UNVERIFIED]) and
forwards `/{provider}/{path}` to the provider, whose own bodies, status words and errors come back:

* `/fal-ai/{endpoint}?_subdomain=queue` -> fal's queue answer (`request_id`, `response_url` on
  queue.fal.run, which the SDK reads only the path of); `GET /fal-ai/{root}/requests/{id}/status`
  IN_QUEUE -> IN_PROGRESS -> COMPLETED (with `error`/`error_type` on failure); `GET .../{id}` the
  result `{"video": {"url"}}`; `PUT .../cancel`. Queue paths need `?_subdomain=queue` (without it the
  router goes to fal.run, where they do not exist). A create *without* it is fal.run's synchronous
  call: it blocks until the video exists and answers the result, with no request id.
* `/together/v2/videos` (`POST` -> `{id, status: queued}`, `GET /{id}`: queued -> in_progress ->
  completed|failed|cancelled with `outputs.{video_url,cost}`); OpenAI-style 400 errors.
* `/replicate/v1/models/{owner}/{name}/predictions`, `/replicate/v1/predictions` (with `version`);
  `Prefer: wait` makes the create block until the prediction is done (the SDK's path); `GET` and
  `POST .../cancel` by id; `GET /replicate/v1/predictions` lists them (issue 12's recovery will need
  it). Errors are RFC 7807 problem JSON.

Inputs are checked against `SCHEMAS` (stricter than apps that ignore unknown fields, on purpose).
"""

from __future__ import annotations

import re
import time
from typing import Any

from .base import EmulatedJob, Emulator, Recorded, Reply

TOKEN = "hf_test_router_token"
#: [UNVERIFIED exact wording] the router's 402 once a free account's included credits are spent.
CREDITS_MESSAGE = ("You have exceeded your monthly included credits for Inference Providers. "
                   "Subscribe to PRO to get 20x more monthly included credits.")
_STATES = {
    "fal-ai": ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"],
    "together": ["queued", "in_progress", "completed"],
    "replicate": ["starting", "processing", "succeeded"],
}
#: provider model id -> field -> ("int", lo, hi) | ("enum", [..]) | "text" | "bool" | "float".
SCHEMAS: dict[str, dict[str, Any]] = {
    "fal-ai/wan/v2.2-a14b/text-to-video": {
        "prompt": "text", "num_frames": ("int", 17, 161), "frames_per_second": ("int", 4, 60),
        "resolution": ("enum", ["480p", "580p", "720p"]), "aspect_ratio": ("enum", ["16:9", "9:16", "1:1"]),
        "seed": ("int", 0, 2**32), "negative_prompt": "text", "num_inference_steps": ("int", 2, 40),
        "guidance_scale": "float", "enable_safety_checker": "bool", "enable_prompt_expansion": "bool"},
    "Wan-AI/Wan2.2-T2V-A14B": {
        "model": "text", "prompt": "text", "width": ("int", 256, 1920), "height": ("int", 256, 1920),
        "seconds": ("enum", ["5"]), "fps": ("int", 16, 24), "steps": ("int", 10, 50), "seed": ("int", 0, 2**32),
        "guidance_scale": "float", "output_format": ("enum", ["MP4", "WEBM"]), "output_quality": ("int", 1, 100),
        "negative_prompt": "text"},
    "wavespeedai/wan-2.1-t2v-480p": {
        "prompt": "text", "aspect_ratio": ("enum", ["16:9", "9:16"]), "seed": ("int", 0, 2**32),
        "fast_mode": ("enum", ["Off", "Balanced", "Fast"]), "sample_steps": ("int", 1, 40),
        "sample_guide_scale": "float", "sample_shift": "float", "disable_safety_checker": "bool"},
}  # fmt: skip


def check(schema: dict[str, Any], body: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, why) for every field the provider would refuse; `prompt` is required everywhere."""
    problems = [] if body.get("prompt") else [("prompt", "Field required")]
    for name, value in body.items():
        spec = schema.get(name)
        if spec is None:
            problems.append((name, "Extra inputs are not permitted"))
        elif spec == "text" and not isinstance(value, str):
            problems.append((name, "Input should be a valid string"))
        elif spec == "bool" and not isinstance(value, bool):
            problems.append((name, "Input should be a valid boolean"))
        elif spec == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append((name, "Input should be a valid number"))
        elif isinstance(spec, tuple) and spec[0] == "enum" and not any(value == v and type(value) is type(v)
                                                                       for v in spec[1]):
            problems.append((name, "Input should be " + ", ".join(repr(v) for v in spec[1])))
        elif isinstance(spec, tuple) and spec[0] == "int" and not (
                isinstance(value, int) and not isinstance(value, bool) and spec[1] <= value <= spec[2]):
            problems.append((name, f"Input should be an integer from {spec[1]} to {spec[2]}"))
    return problems


class HuggingFaceEmulator(Emulator):
    name = "huggingface"

    def __init__(self, token: str = TOKEN) -> None:
        super().__init__()
        self.token = token
        #: False once the account's included credits are spent (402 on every create).
        self.credits_left = True
        self.route("GET", r"/fal-ai/(?P<root>[^/]+/[^/]+)/requests/(?P<id>[^/]+)/status", "poll", self._fal_status)
        self.route("PUT", r"/fal-ai/(?P<root>[^/]+/[^/]+)/requests/(?P<id>[^/]+)/cancel", "cancel", self._fal_cancel)
        self.route("GET", r"/fal-ai/(?P<root>[^/]+/[^/]+)/requests/(?P<id>[^/]+)", "result", self._fal_result)
        self.route("POST", r"/fal-ai/(?P<model>[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)+)", "create", self._fal_create)
        self.route("POST", r"/together/v2/videos", "create", self._together_create)
        self.route("GET", r"/together/v2/videos/(?P<id>[^/]+)", "poll", self._together_read)
        self.route("POST", r"/replicate/v1/models/(?P<model>[^/]+/[^/]+)/predictions", "create", self._replicate_create)
        self.route("POST", r"/replicate/v1/predictions", "create", self._replicate_create)
        self.route("GET", r"/replicate/v1/predictions", "list", self._replicate_list)
        self.route("GET", r"/replicate/v1/predictions/(?P<id>[^/]+)", "poll", self._replicate_read)
        self.route("POST", r"/replicate/v1/predictions/(?P<id>[^/]+)/cancel", "cancel", self._replicate_cancel)

    # --- the router ----------------------------------------------------------------------------

    def check_auth(self, req: Recorded) -> Reply | None:
        if req.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, {"error": "Invalid credentials in Authorization header"})
        if req.route == "create" and not self.credits_left:
            return Reply(402, {"error": CREDITS_MESSAGE})
        return None

    def error_response(self, status: int, message: str) -> Reply:
        return Reply(status, {"error": message})

    def _new(self, route: str, model: str, body: Any) -> EmulatedJob:
        states = [_STATES[route][0]] + [_STATES[route][1]] * (self.steps - 1) + [_STATES[route][2]]
        return self.new_job(f"{route}:{model}", body, states)

    def _job(self, job_id: str, route: str, *, advance: bool) -> EmulatedJob | None:
        job = self.read_job(job_id) if advance else self.jobs.get(job_id)
        return job if job is not None and job.kind.startswith(route + ":") else None

    # --- fal-ai --------------------------------------------------------------------------------

    def _fal_create(self, req: Recorded, match: re.Match[str]) -> Reply:
        model = match["model"]
        schema = SCHEMAS.get(model)
        if schema is None:
            return Reply(404, {"detail": f"Application '{model}' not found"})
        body = req.json if req.body else None
        problems = check(schema, body) if isinstance(body, dict) else [("body", "Input should be a valid dictionary")]
        if problems:
            return Reply(422, {"detail": [{"loc": ["body", f], "msg": m, "type": "value_error"} for f, m in problems]})
        job = self._new("fal-ai", model, body)
        root = "/".join(model.split("/")[:2])
        if (req.query.get("_subdomain") or [""])[0] != "queue":
            # fal.run: the connection is held until the video exists; the answer is the result itself.
            job.polls = len(job.states)
            return self._fal_output(job)
        base = f"https://queue.fal.run/{root}/requests/{job.id}"
        return Reply(200, {"request_id": job.id, "gateway_request_id": job.id, "status": "IN_QUEUE",
                           "queue_position": 0, "response_url": base, "status_url": f"{base}/status",
                           "cancel_url": f"{base}/cancel"})

    def _fal_job(self, req: Recorded, match: Any, *, advance: bool) -> EmulatedJob | Reply:
        if (req.query.get("_subdomain") or [""])[0] != "queue":
            return Reply(404, {"detail": "Not Found"})  # fal.run has no request paths
        job = self._job(match["id"], "fal-ai", advance=advance)
        if job is None or "/".join(job.kind.split(":", 1)[1].split("/")[:2]) != match["root"]:
            return Reply(404, {"detail": "Request not found"})
        return job

    def _fal_status(self, req: Recorded, match: re.Match[str]) -> Reply:
        job = self._fal_job(req, match, advance=True)
        if isinstance(job, Reply):
            return job
        state = "COMPLETED" if job.canceled else job.states[job.state_index]
        answer: dict[str, Any] = {"status": state, "request_id": job.id, "logs": None}
        if state == "COMPLETED":
            failure = ("request_cancelled", "Request was cancelled by the user") if job.canceled else job.failure
            if failure is not None:
                answer.update(error_type=failure[0], error=failure[1])
        return Reply(200 if state == "COMPLETED" else 202, answer)

    def _fal_result(self, req: Recorded, match: re.Match[str]) -> Reply:
        job = self._fal_job(req, match, advance=False)
        return job if isinstance(job, Reply) else self._fal_output(job)

    def _fal_output(self, job: EmulatedJob) -> Reply:
        if not (job.finished or job.canceled):
            return Reply(400, {"detail": "Request is still in progress"})
        if job.failure is not None and job.failure[0] == "content_policy_violation":
            return Reply(422, {"detail": [{"loc": ["body", "prompt"], "msg": job.failure[1],
                                           "type": "content_policy_violation"}]})
        video = {"url": self.output_url(job), "content_type": "video/mp4", "file_name": "output.mp4"}
        return Reply(200, {"video": video, "seed": job.request.get("seed", 42)})

    def _fal_cancel(self, req: Recorded, match: re.Match[str]) -> Reply:
        with self._lock:
            job = self._fal_job(req, match, advance=False)
            if isinstance(job, Reply):
                return Reply(404, {"status": "NOT_FOUND"})
            if job.finished or job.canceled:
                return Reply(400, {"status": "ALREADY_COMPLETED"})
            job.canceled = True
        return Reply(202, {"status": "CANCELLATION_REQUESTED"})

    # --- together ------------------------------------------------------------------------------

    def _together_create(self, req: Recorded, match: re.Match[str]) -> Reply:
        body = req.json if req.body else None
        model = body.get("model") if isinstance(body, dict) else None
        schema = SCHEMAS.get(model) if isinstance(model, str) else None
        if schema is None or "seconds" not in schema:
            return _together_error(400, f"Unable to access model {model}.", "model")
        problems = check(schema, body)
        if problems:
            return _together_error(400, f"Invalid value for '{problems[0][0]}': {problems[0][1]}", problems[0][0])
        job = self._new("together", model, body)
        return Reply(200, {"id": job.id, "object": "video", "model": model, "status": "queued",
                           "created_at": int(job.created_at)})

    def _together_read(self, req: Recorded, match: re.Match[str]) -> Reply:
        job = self._job(match["id"], "together", advance=True)
        if job is None:
            return _together_error(404, "Video job not found", None)
        status = job.states[job.state_index]
        if job.finished and job.failure is not None:
            status = "failed"
        answer: dict[str, Any] = {"id": job.id, "object": "video", "model": job.request["model"], "status": status,
                                  "seconds": job.request.get("seconds"), "created_at": int(job.created_at),
                                  "error": None, "outputs": None}  # fmt: skip
        if status == "failed":
            answer["error"] = {"code": job.failure[0], "message": job.failure[1]}  # type: ignore[index]
        elif status == "completed":
            answer.update(completed_at=int(time.time()), outputs={"cost": 0.66, "video_url": self.output_url(job)})
        return Reply(200, answer)

    # --- replicate -----------------------------------------------------------------------------

    def _replicate_create(self, req: Recorded, match: re.Match[str]) -> Reply:
        body = req.json if req.body else None
        model = match.groupdict().get("model") or (body or {}).get("version", "")
        schema = SCHEMAS.get(model.split(":")[0]) if isinstance(model, str) else None
        if schema is None:
            return _problem(404, "The requested resource could not be found.")
        if not isinstance(body, dict) or set(body) - {"input", "version", "webhook", "webhook_events_filter"}:
            return _problem(422, "- (root): Additional property is not allowed")
        problems = check(schema, body.get("input") or {})
        if problems:
            return _problem(422, "\n".join(f"- input.{f}: {m}" for f, m in problems))
        job = self._new("replicate", model, body)
        if "wait" in req.headers.get("prefer", ""):
            job.polls = len(job.states)  # blocked until done: the answer already carries the output
        return Reply(201, self._prediction(job))

    def _prediction(self, job: EmulatedJob) -> dict[str, Any]:
        status = "canceled" if job.canceled else job.states[job.state_index]
        if job.finished and job.failure is not None and not job.canceled:
            status = "failed"
        done = status == "succeeded"
        return {"id": job.id, "model": job.kind.split(":", 1)[1], "version": "hidden", "input": job.request["input"],
                "status": status, "output": self.output_url(job) if done else None,
                "error": job.failure[1] if status == "failed" and job.failure else None, "logs": "",
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(job.created_at)),
                "urls": {"get": f"{self.url}/replicate/v1/predictions/{job.id}",
                         "cancel": f"{self.url}/replicate/v1/predictions/{job.id}/cancel"}}  # fmt: skip

    def _replicate_read(self, req: Recorded, match: re.Match[str]) -> Reply:
        job = self._job(match["id"], "replicate", advance=True)
        return _problem(404, "Prediction not found") if job is None else Reply(200, self._prediction(job))

    def _replicate_cancel(self, req: Recorded, match: re.Match[str]) -> Reply:
        with self._lock:
            job = self._job(match["id"], "replicate", advance=False)
            if job is None:
                return _problem(404, "Prediction not found")
            if not job.finished:
                job.canceled = True
            return Reply(200, self._prediction(job))

    def _replicate_list(self, req: Recorded, match: re.Match[str]) -> Reply:
        return Reply(200, {"previous": None, "next": None, "results": self.prediction_list()})

    def prediction_list(self) -> list[dict[str, Any]]:
        """Replicate's newest-first prediction list, without advancing any job."""
        with self._lock:
            jobs = [j for j in self.jobs.values() if j.kind.startswith("replicate:")]
            return [{"id": j.id, "status": j.states[j.state_index], "created_at": j.created_at}
                    for j in sorted(jobs, key=lambda j: j.created_at, reverse=True)]


def _together_error(status: int, message: str, param: str | None) -> Reply:
    return Reply(status, {"error": {"message": message, "type": "invalid_request_error", "param": param,
                                    "code": None}})


def _problem(status: int, detail: str) -> Reply:
    title = {404: "Not found", 422: "Input validation failed"}.get(status, "Error")
    return Reply(status, {"type": f"https://replicate.com/docs/errors#{status}", "title": title, "status": status,
                          "detail": detail})

