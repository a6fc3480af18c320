"""Loopback emulator of Together AI's video API (contract: together SDK 3.1.1 and providers.md §6).

Speaks: bearer auth; `POST /v2/videos` with a JSON body validated per model like Together does
(exact pixel sizes, `seconds` as a string from the model's lengths, fps, prompt rules, keyframes
under `media.frame_images` with `frame` "first"/"last"/an index, inline base64 or https images);
the answer is the job object; `GET /v2/videos/{id}` moves queued -> in_progress -> completed with
`outputs {video_url, cost}` (an unauthenticated short link, as Together's `/shrt/` links are) or
failed with `error {code, message}`; errors as OpenAI-style `{"error": {"message", "type", "param",
"code"}}`. There is no cancel, delete or list route: SDK 3.1.1 has none and the docs name none (a
job can still read `cancelled`, which `cancel_from_dashboard` sets).
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from .base import EmulatedJob, Emulator, Recorded, Reply

API_KEY = "tgp_v1_test_together_key"
#: Inline images above this are refused (providers.md §6: "~60 KB cap for inline").
INLINE_MAX = 60 * 1024

_16_9 = {"1280x720", "720x1280", "1920x1080", "1080x1920"}
_KLING_1080 = {"1920x1080", "1080x1080", "1080x1920"}
_SEEDANCE = {"864x480", "736x544", "640x640", "960x416", "416x960", "1248x704", "1120x832", "960x960", "1504x640",
             "640x1504"}
_PIXVERSE = {"640x360", "480x360", "360x360", "270x360", "360x640", "960x540", "720x540", "540x540", "405x540",
             "540x960", "1280x720", "960x720", "720x720", "540x720", "720x1280", "1920x1080", "1440x1080", "1080x1080",
             "810x1080", "1080x1920"}
_VIDU_2 = {"1920x1080", "1080x1080", "1080x1920", "1280x720", "720x720", "720x1280", "640x360", "360x360", "360x640"}


def _rules(sizes: set[str], seconds: list[str], price: float, *, fps: set[int] | None = None,
           last: bool = False, prompt: bool = True, max_prompt: int = 3000, image: bool = True,
           text: bool = True) -> dict[str, Any]:
    return {"sizes": sizes, "seconds": seconds, "price": price, "fps": fps, "last": last, "prompt": prompt,
            "max_prompt": max_prompt, "image": image, "text": text}


#: Together's model table (togethercomputer/skills references/models.md) with per-video prices.
MODELS: dict[str, dict[str, Any]] = {
    "google/veo-3.0": _rules(_16_9, ["8"], 1.60),
    "google/veo-3.0-audio": _rules(_16_9, ["8"], 3.20),
    "google/veo-3.0-fast": _rules(_16_9, ["8"], 0.80),
    "google/veo-3.0-fast-audio": _rules(_16_9, ["8"], 1.20),
    "google/veo-2.0": _rules({"1280x720", "720x1280"}, ["5"], 2.50, last=True),
    "openai/sora-2": _rules({"1280x720", "720x1280"}, ["8"], 0.80, max_prompt=4000),
    "openai/sora-2-pro": _rules({"1280x720", "720x1280"}, ["8"], 2.40, max_prompt=4000),
    "minimax/hailuo-02": _rules({"1366x768", "1920x1080"}, ["6", "10"], 0.49),
    "minimax/video-01-director": _rules({"1366x768"}, ["5"], 0.28),
    "kwaivgI/kling-2.1-master": _rules(_KLING_1080, ["5"], 0.92, max_prompt=2500),
    "kwaivgI/kling-2.1-standard": _rules(_KLING_1080, ["5"], 0.18, prompt=False, max_prompt=2500, text=False),
    "kwaivgI/kling-2.1-pro": _rules(_KLING_1080, ["5"], 0.32, last=True, prompt=False, max_prompt=2500, text=False),
    "kwaivgI/kling-2.0-master": _rules({"1280x720", "720x720", "720x1280"}, ["5"], 0.92, max_prompt=2500),
    "kwaivgI/kling-1.6-standard": _rules(_KLING_1080, ["5"], 0.19, fps={24, 30}),
    "kwaivgI/kling-1.6-pro": _rules(_KLING_1080, ["5"], 0.32, prompt=False, text=False),
    "ByteDance/Seedance-1.0-pro": _rules(_SEEDANCE, ["5"], 0.57, last=True),
    "ByteDance/Seedance-1.0-lite": _rules(_SEEDANCE, ["5"], 0.14, last=True),
    "pixverse/pixverse-v5": _rules(_PIXVERSE, ["5"], 0.30, fps={16, 24}, last=True, max_prompt=2048),
    "vidu/vidu-2.0": _rules(_VIDU_2, ["8"], 0.28, last=True),
    "vidu/vidu-q1": _rules(_KLING_1080, ["5"], 0.22, last=True),
    "Wan-AI/Wan2.2-T2V-A14B": _rules({"1280x720", "720x1280"}, ["5"], 0.66, image=False),
    "Wan-AI/Wan2.2-I2V-A14B": _rules({"1280x720", "720x1280"}, ["5"], 0.31, prompt=False, text=False),
}
_FIELDS = {"model", "prompt", "width", "height", "seconds", "fps", "steps", "seed", "guidance_scale", "output_format",
           "output_quality", "negative_prompt", "media", "generate_audio", "ratio", "resolution"}
_MEDIA = {"frame_images", "reference_images", "frame_videos", "reference_videos", "source_video", "audio_inputs"}


class BadParam(Exception):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


class TogetherEmulator(Emulator):
    name = "together"

    def __init__(self, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self.route("POST", r"/v2/videos", "create", self._create)
        self.route("GET", r"/v2/videos/(?P<id>[^/]+)", "poll", self._video)

    # --- contract checks ----------------------------------------------------------------------

    def check_auth(self, req: Recorded) -> Reply | None:
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return self.error_response(401, "Invalid API key provided. You can find your API key at "
                                            "https://api.together.ai/settings/api-keys.", code="invalid_api_key")
        return None

    def error_response(self, status: int, message: str, *, param: str | None = None,
                       code: str | None = None) -> Reply:
        kind = "invalid_request_error" if status < 500 else "server_error"
        return Reply(status, {"error": {"message": message, "type": kind, "param": param, "code": code}})

    # --- routes -------------------------------------------------------------------------------

    def _create(self, req: Recorded, match: re.Match[str]) -> Reply:
        try:
            body = req.json
            rules = self._validate(body)
        except BadParam as exc:
            return self.error_response(400, str(exc), param=exc.param, code="invalid_parameter")
        except ValueError:
            return self.error_response(400, "Request body is not valid JSON")
        states = ["queued"] + ["in_progress"] * max(1, self.steps - 1) + ["completed"]
        job = self.new_job(body["model"], body, states, float(body.get("seconds") or rules["seconds"][-1]))
        return Reply(200, self.video_json(job, creating=True))

    def _validate(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise BadParam("body", "Request body must be a JSON object")
        unknown = sorted(set(body) - _FIELDS)
        if unknown:
            raise BadParam(unknown[0], f"Unrecognized request argument supplied: {unknown[0]}")
        rules = MODELS.get(body.get("model", ""))
        if rules is None:
            raise BadParam("model", f"Unable to access model {body.get('model')!r}. Please visit "
                                    "https://api.together.ai/models to view the list of supported models.")
        self._check_prompt(body, rules)
        if ("width" in body) != ("height" in body):
            raise BadParam("width", "width and height must be given together")
        if "width" in body:
            if not all(isinstance(body[k], int) and not isinstance(body[k], bool) for k in ("width", "height")):
                raise BadParam("width", "width and height must be integers")
            if f"{body['width']}x{body['height']}" not in rules["sizes"]:
                raise BadParam("width", f"Unsupported dimensions {body['width']}x{body['height']} for {body['model']}; "
                                        f"supported: {', '.join(sorted(rules['sizes']))}")
        seconds = body.get("seconds")
        if seconds is not None and (not isinstance(seconds, str) or seconds not in rules["seconds"]):
            raise BadParam("seconds", f"seconds must be one of {', '.join(repr(s) for s in rules['seconds'])} "
                                      f"for {body['model']} (a string)")
        fps = body.get("fps")
        if fps is not None and (not isinstance(fps, int) or not 15 <= fps <= 60
                                or (rules["fps"] is not None and fps not in rules["fps"])):
            raise BadParam("fps", f"Unsupported fps {fps!r} for {body['model']}")
        for name, low, high in (("steps", 10, 50), ("output_quality", 0, 100)):
            if name in body and (not isinstance(body[name], int) or not low <= body[name] <= high):
                raise BadParam(name, f"{name} must be an integer between {low} and {high}")
        if "seed" in body and not isinstance(body["seed"], int):
            raise BadParam("seed", "seed must be an integer")
        self._check_media(body, rules)
        return rules

    def _check_prompt(self, body: dict[str, Any], rules: dict[str, Any]) -> None:
        prompt = body.get("prompt")
        if prompt is not None and (not isinstance(prompt, str) or not prompt or len(prompt) > rules["max_prompt"]):
            raise BadParam("prompt", f"prompt must be 1-{rules['max_prompt']} characters for {body['model']}")
        if prompt is None and rules["prompt"]:
            raise BadParam("prompt", f"prompt is required for {body['model']}")

    def _check_media(self, body: dict[str, Any], rules: dict[str, Any]) -> None:
        media = body.get("media")
        frames: list[Any] = []
        if media is not None:
            if not isinstance(media, dict) or set(media) - _MEDIA:
                raise BadParam("media", "media accepts " + ", ".join(sorted(_MEDIA)))
            frames = media.get("frame_images") or []
            if not isinstance(frames, list):
                raise BadParam("media.frame_images", "frame_images must be an array")
        if frames and not rules["image"]:
            raise BadParam("media.frame_images", f"{body['model']} is text-to-video only")
        if not frames and not rules["text"]:
            raise BadParam("media.frame_images", f"{body['model']} needs a first frame in media.frame_images")
        positions = []
        for item in frames:
            if not isinstance(item, dict) or "input_image" not in item or set(item) - {"input_image", "frame"}:
                raise BadParam("media.frame_images", "each frame image is {input_image, frame}")
            frame = item.get("frame", "first" if not positions else "last")
            if frame not in ("first", "last") and not (isinstance(frame, int) and frame >= 0):
                raise BadParam("media.frame_images", "frame must be 'first', 'last' or a frame index")
            positions.append("first" if frame == 0 else frame)
            _check_image(item["input_image"])
        if "last" in positions and not rules["last"]:
            raise BadParam("media.frame_images", f"{body['model']} does not support a last frame")
        if len(set(map(str, positions))) != len(positions):
            raise BadParam("media.frame_images", "duplicate frame positions")

    def _video(self, req: Recorded, match: re.Match[str]) -> Reply:
        job = self.read_job(match["id"])
        if job is None:
            return self.error_response(404, f"Video job {match['id']} not found", code="not_found")
        return Reply(200, self.video_json(job))

    # --- the job object ---------------------------------------------------------------------------

    def video_json(self, job: EmulatedJob, *, creating: bool = False) -> dict[str, Any]:
        """The VideoJob for the job's current state (`outputs` only once completed)."""
        request = job.request
        size = f"{request['width']}x{request['height']}" if "width" in request else "1366x768"
        video: dict[str, Any] = {
            "id": job.id, "object": "video", "model": request["model"], "seconds": str(request.get("seconds") or ""),
            "size": size, "created_at": int(job.created_at), "completed_at": None, "error": None, "outputs": None,
        }  # fmt: skip
        if job.canceled:
            video["status"] = "cancelled"
            return video
        if creating:
            video["status"] = job.states[0]
            return video
        status = job.states[job.state_index]
        if job.finished and job.failure:
            code, message = job.failure
            video.update(status="failed", error={"code": code, "message": message},
                         completed_at=int(job.created_at) + 5)
            return video
        video["status"] = status
        if status == "completed":
            video.update(completed_at=int(job.created_at) + 5,
                         outputs={"cost": MODELS[request["model"]]["price"], "video_url": self.output_url(job)})
        return video

    def cancel_from_dashboard(self, job_id: str) -> None:
        """What a job canceled outside the API looks like (the API itself has no cancel)."""
        with self._lock:
            self.jobs[job_id].canceled = True


def _check_image(value: Any) -> None:
    """An https URL, a data URL or raw base64 of a small image."""
    if not isinstance(value, str) or not value:
        raise BadParam("media.frame_images", "input_image must be a URL or base64 image data")
    if value.startswith("https://"):
        return
    payload = value.partition(",")[2] if value.startswith("data:image/") else value
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise BadParam("media.frame_images", "input_image is neither an https URL nor valid base64") from None
    if len(data) > INLINE_MAX:
        raise BadParam("media.frame_images", "inline input_image is too large; host the image and pass its URL")
    if not (data.startswith(b"\x89PNG") or data.startswith(b"\xff\xd8\xff") or data[8:12] == b"WEBP"):
        raise BadParam("media.frame_images", "input_image is not a PNG, JPEG or WebP image")
