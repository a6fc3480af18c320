"""Runway's official SDK (runwayml) against the emulator: the emulator is held to Runway's own client."""

from __future__ import annotations

import base64

import httpx
import pytest
from provider_utils import require_provider

require_provider("runway")  # the rest of this module needs its package
from adapter_helpers import sdk_until
from emulators.runway import RunwayEmulator
from media_utils import make_image

runwayml = pytest.importorskip("runwayml")
from runwayml.types import task_retrieve_response as tasks  # noqa: E402


@pytest.fixture
def emu():
    with RunwayEmulator() as emulator:
        emulator.steps = 2
        yield emulator


@pytest.fixture
def sdk(emu):
    with runwayml.RunwayML(api_key=emu.api_key, base_url=emu.url, max_retries=2) as client:
        yield client


def finish(sdk, task_id: str):
    return sdk_until(sdk.tasks.retrieve, task_id, ("SUCCEEDED", "FAILED", "CANCELLED"))


def test_text_to_video_create_poll_and_fetch(sdk, emu):
    created = sdk.text_to_video.create(model="gen4.5", prompt_text="a lighthouse at dusk", ratio="1280:720", duration=2)
    first = sdk.tasks.retrieve(created.id)
    assert isinstance(first, tasks.Pending) and first.estimated_cost.credits == 24
    task = finish(sdk, created.id)
    assert isinstance(task, tasks.Succeeded) and task.cost.credits == 24
    video = httpx.get(task.output[0])
    assert video.headers["content-type"] == "video/mp4" and video.content[4:8] == b"ftyp"
    body = emu.requests_to("create")[0]
    assert body.headers["x-runway-version"] == "2024-11-06"
    assert body.json == {"model": "gen4.5", "promptText": "a lighthouse at dusk", "ratio": "1280:720", "duration": 2}


def test_image_to_video_with_keyframes_and_cancel(sdk, emu, tmp_path):
    png = make_image(tmp_path / "a.png").read_bytes()
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    single = sdk.image_to_video.create(model="gen4_turbo", prompt_image=uri, ratio="960:960", duration=5)
    assert finish(sdk, single.id).status == "SUCCEEDED"

    pair = sdk.image_to_video.create(
        model="veo3.1", ratio="1920:1080", duration=4,
        prompt_image=[{"uri": uri, "position": "first"}, {"uri": uri, "position": "last"}],
    )  # fmt: skip
    assert sdk.tasks.retrieve(pair.id).status == "PENDING"
    sdk.tasks.delete(pair.id)
    cancelled = sdk.tasks.retrieve(pair.id)
    assert isinstance(cancelled, tasks.Cancelled) and cancelled.cost.credits == 0
    assert emu.requests_to("cancel")[0].headers["accept"] == "*/*"


def test_ephemeral_upload_then_use(sdk, emu, tmp_path):
    path = make_image(tmp_path / "frame.png", (320, 180), "orange")
    uploaded = sdk.uploads.create_ephemeral(file=path)
    assert uploaded.uri.startswith("runway://") and emu.uploads[uploaded.uri] == path.read_bytes()
    task = sdk.image_to_video.create(model="gen4.5", prompt_text="zoom in", prompt_image=uploaded.uri, ratio="1104:832", duration=3)
    assert finish(sdk, task.id).status == "SUCCEEDED"


def test_failed_task_carries_failure_code(sdk, emu):
    emu.fail_next = ("SAFETY.INPUT.TEXT", "Prompt flagged")
    task = finish(sdk, sdk.text_to_video.create(model="veo3.1_fast", prompt_text="x", ratio="720:1280", duration=6).id)
    assert isinstance(task, tasks.Failed) and task.failure_code == "SAFETY.INPUT.TEXT" and task.failure == "Prompt flagged"


def test_error_shapes_reach_the_sdk_as_its_own_exceptions(sdk, emu):
    with pytest.raises(runwayml.BadRequestError) as bad:
        sdk.text_to_video.create(model="gen4.5", prompt_text="x", ratio="960:960", duration=2)  # type: ignore[arg-type]
    assert bad.value.body == {"error": "Invalid parameter 'ratio'"}
    with runwayml.RunwayML(api_key="key_wrong", base_url=emu.url, max_retries=0) as wrong:
        with pytest.raises(runwayml.AuthenticationError):
            wrong.tasks.retrieve("anything")
    with pytest.raises(runwayml.NotFoundError):
        sdk.tasks.retrieve("no-such-task")


def test_sdk_retries_429_honouring_retry_after_ms(sdk, emu):
    created = sdk.text_to_video.create(model="gen4.5", prompt_text="x", ratio="720:1280", duration=2)
    emu.inject("poll", status=429, retry_after_ms=20, times=2)
    assert sdk.tasks.retrieve(created.id).status == "PENDING"
    assert emu.count("poll") == 3
