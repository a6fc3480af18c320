"""Kling has no official Python SDK, so the emulator is held to a public client's contract instead.

Source checked: `inference-sh/grid`, file `api/klingai/kling_helper.py` (its `KlingClient`, commit
24b5aff1, read through the code search on 2026-12-02), beside the Kling API doc copies in the same
repository (`api/klingai/docs/00-general.md`, `03-video-text2video.md`, `04-video-image2video.md`,
`07-video-extension.md`). What it confirmed, and what this module replays (facts re-typed here, not
its code):

* auth: PyJWT `jwt.encode({"iss": ak, "exp": now + 1800, "nbf": now - 5}, sk, algorithm="HS256",
  headers={"alg": "HS256", "typ": "JWT"})`, sent as `Authorization: Bearer <token>` with JSON bodies;
* text2video create body: `model_name`, `prompt`, `mode`, `aspect_ratio`, `duration` (a string,
  default "5"), optional `negative_prompt`, `sound` (only when not "off"), `cfg_scale`,
  `camera_control` `{type, config}` where `config` lists all six axes (horizontal, vertical, pan,
  tilt, roll, zoom) and is sent only for type "simple";
* every answer is the `{code, message, request_id, data}` envelope and `code != 0` is an error;
* `data.task_id` of the create, then `GET /v1/videos/text2video/{task_id}`; `task_status` in
  submitted|processing|succeed|failed; `task_result.videos[]` with `id`, `url`, `duration`.

PyJWT is installed here (a dependency of the MCP SDK), so the client's signing runs for real: its
token is accepted by the emulator, and our own standard-library token verifies under PyJWT.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from provider_utils import require_provider

require_provider("kling")  # the rest of this module needs its package
from emulators.kling import ACCESS_KEY, SECRET_KEY, KlingEmulator

from reelforge.providers.kling.auth import jwt_token

jwt = pytest.importorskip("jwt")

STATUSES = {"submitted", "processing", "succeed", "failed"}


class PublicClientReplica:
    """The public client's request building and envelope handling, re-typed from its documented behaviour."""

    def __init__(self, base_url: str, access_key: str, secret_key: str) -> None:
        self.base_url, self.access_key, self.secret_key = base_url.rstrip("/"), access_key, secret_key

    def token(self) -> str:
        now = int(time.time())
        return jwt.encode({"iss": self.access_key, "exp": now + 1800, "nbf": now - 5}, self.secret_key,
                          algorithm="HS256", headers={"alg": "HS256", "typ": "JWT"})

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token()}"}
        data = httpx.request(method, self.base_url + path, headers=headers, json=body).json()
        if data.get("code", 0) != 0:
            raise RuntimeError(f"[{data.get('code')}] {data.get('message')}")
        return data

    def text2video(self, prompt: str, *, model_name: str = "kling-v1", negative_prompt: str | None = None,
                   sound: str = "off", cfg_scale: float = 0.5, mode: str = "std", camera: dict | None = None,
                   aspect_ratio: str = "16:9", duration: str = "5") -> dict[str, Any]:
        payload: dict[str, Any] = {"model_name": model_name, "prompt": prompt, "mode": mode,
                                   "aspect_ratio": aspect_ratio, "duration": duration}
        if negative_prompt:
            payload["negative_prompt"] = negative_prompt
        if sound != "off":
            payload["sound"] = sound
        if cfg_scale != 0.5:
            payload["cfg_scale"] = cfg_scale
        if camera:
            payload["camera_control"] = camera
        return self.request("POST", "/v1/videos/text2video", payload)["data"]

    def get(self, task_id: str) -> dict[str, Any]:
        return self.request("GET", f"/v1/videos/text2video/{task_id}")["data"]


@pytest.fixture
def emu():
    with KlingEmulator() as emulator:
        emulator.steps = 2
        yield emulator


@pytest.fixture
def client(emu):
    return PublicClientReplica(emu.url, ACCESS_KEY, SECRET_KEY)


def _finish(client: PublicClientReplica, task_id: str) -> dict[str, Any]:
    for _ in range(10):
        task = client.get(task_id)
        assert task["task_status"] in STATUSES
        if task["task_status"] in ("succeed", "failed"):
            return task
    raise AssertionError("task never finished")


def test_create_poll_and_download_as_the_public_client_does(client, emu):
    created = client.text2video("a lighthouse at dusk", model_name="kling-v1-6", negative_prompt="blur",
                                mode="pro", duration="10")
    assert created["task_status"] == "submitted" and created["task_id"].isdigit()
    task = _finish(client, created["task_id"])
    assert task["task_status"] == "succeed" and task["final_unit_deduction"] == "7"
    video = task["task_result"]["videos"][0]
    assert set(video) == {"id", "url", "duration"} and video["duration"] == "10"
    download = httpx.get(video["url"])
    assert download.status_code == 200 and download.content[4:8] == b"ftyp"


def test_the_public_clients_camera_control_shape_is_accepted(client, emu):
    axes = {"horizontal": 0, "vertical": 0, "pan": 0, "tilt": 0, "roll": 0, "zoom": 5}
    created = client.text2video("a city at night", camera={"type": "simple", "config": axes})
    assert _finish(client, created["task_id"])["task_status"] == "succeed"
    with pytest.raises(RuntimeError, match="1201"):  # camera control is kling-v1 std 5 s only
        client.text2video("a city at night", mode="pro", camera={"type": "forward_up"})


def test_the_public_clients_errors_come_in_the_envelope(client, emu):
    with pytest.raises(RuntimeError, match="1201"):
        client.text2video("x", duration="7")
    with pytest.raises(RuntimeError, match="1203"):
        client.get("404404")
    wrong = PublicClientReplica(emu.url, ACCESS_KEY, "some-other-secret")
    with pytest.raises(RuntimeError, match="1000"):
        wrong.text2video("x")


def test_our_token_and_pyjwts_agree():
    ours = jwt_token(ACCESS_KEY, SECRET_KEY)
    claims = jwt.decode(ours, SECRET_KEY, algorithms=["HS256"])
    assert claims["iss"] == ACCESS_KEY and claims["exp"] - claims["nbf"] == 1805
    assert jwt.get_unverified_header(ours) == {"alg": "HS256", "typ": "JWT"}
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(ours, "wrong-secret-abcdef", algorithms=["HS256"])
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(jwt_token(ACCESS_KEY, SECRET_KEY, now=time.time() - 4000), SECRET_KEY, algorithms=["HS256"])
