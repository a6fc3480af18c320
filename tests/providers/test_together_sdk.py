"""Together's official SDK (together 3.1.1) against the emulator: the emulator is held to Together's own client.

The SDK posts to `/v2/videos` and reads `/v2/videos/{id}` relative to its base URL (no `/v1`), nests
keyframes under `media.frame_images`, sends `seconds` as a string, and parses the job as `VideoJob`
(`outputs.cost`, `outputs.video_url`, `error.code`/`error.message`).
"""

from __future__ import annotations

import base64

import httpx
import pytest
from provider_utils import require_provider

require_provider("together")  # the rest of this module needs its package
from adapter_helpers import sdk_until
from emulators.together import TogetherEmulator
from media_utils import make_image

together = pytest.importorskip("together")
from together.types.video_job import VideoJob  # noqa: E402


@pytest.fixture
def emu():
    with TogetherEmulator() as emulator:
        emulator.steps = 2
        yield emulator


@pytest.fixture
def sdk(emu):
    with together.Together(api_key=emu.api_key, base_url=emu.url, max_retries=2) as client:
        yield client


def finish(sdk, job_id: str) -> VideoJob:
    return sdk_until(sdk.videos.retrieve, job_id, ("completed", "failed", "cancelled"))


def test_text_to_video_create_poll_and_fetch(sdk, emu):
    created = sdk.videos.create(model="minimax/video-01-director", prompt="a lighthouse at dusk", width=1366,
                                height=768, seconds="5", seed=3)
    assert isinstance(created, VideoJob) and created.status == "queued"
    job = finish(sdk, created.id)
    assert job.status == "completed" and job.outputs is not None and job.outputs.cost == pytest.approx(0.28)
    assert job.size == "1366x768" and job.seconds == "5" and job.model == "minimax/video-01-director"
    video = httpx.get(job.outputs.video_url)
    assert video.headers["content-type"] == "video/mp4" and video.content[4:8] == b"ftyp"
    create = emu.requests_to("create")[0]
    assert create.path == "/v2/videos" and create.headers["authorization"] == f"Bearer {emu.api_key}"
    assert create.json == {"model": "minimax/video-01-director", "prompt": "a lighthouse at dusk", "width": 1366,
                           "height": 768, "seconds": "5", "seed": 3}


def test_keyframes_under_media_as_the_sdk_sends_them(sdk, emu, tmp_path):
    b64 = base64.b64encode(make_image(tmp_path / "a.png").read_bytes()).decode()
    created = sdk.videos.create(
        model="ByteDance/Seedance-1.0-pro", prompt="day to night", width=1248, height=704, seconds="5",
        media={"frame_images": [{"input_image": b64, "frame": "first"},
                                {"input_image": "https://images.example.com/b.png", "frame": "last"}]},
    )  # fmt: skip
    assert finish(sdk, created.id).status == "completed"
    frames = emu.requests_to("create")[0].json["media"]["frame_images"]
    assert [f["frame"] for f in frames] == ["first", "last"]


def test_failed_job_carries_its_error(sdk, emu):
    emu.fail_next = ("content_policy_violation", "Prompt flagged")
    job = finish(sdk, sdk.videos.create(model="google/veo-3.0-fast", prompt="x", width=1280, height=720).id)
    assert job.status == "failed" and job.error is not None
    assert (job.error.code, job.error.message) == ("content_policy_violation", "Prompt flagged")


def test_error_shapes_reach_the_sdk_as_its_own_exceptions(sdk, emu):
    with pytest.raises(together.BadRequestError) as bad:
        sdk.videos.create(model="google/veo-3.0-fast", prompt="x", width=1280, height=720, seconds="5")
    error = bad.value.body["error"]
    assert error["param"] == "seconds" and "seconds must be one of" in error["message"]
    with together.Together(api_key="tgp_wrong", base_url=emu.url, max_retries=0) as wrong:
        with pytest.raises(together.AuthenticationError):
            wrong.videos.retrieve("anything")
    with pytest.raises(together.NotFoundError):
        sdk.videos.retrieve("no-such-job")


def test_sdk_retries_429_honouring_retry_after_ms(sdk, emu):
    created = sdk.videos.create(model="google/veo-3.0-fast", prompt="x", width=720, height=1280)
    emu.inject("poll", status=429, retry_after_ms=20, times=2)
    assert sdk.videos.retrieve(created.id).status == "queued"
    assert emu.count("poll") == 3
