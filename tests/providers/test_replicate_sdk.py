"""Contract cross-check: the official `replicate` SDK, unmodified, against the Replicate emulator.

These tests do not touch reelforge's adapter: they hold the emulator to Replicate's own client
(paths, headers, `Prefer: wait`, prediction and file objects, problem JSON, its retry transport).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from provider_utils import require_provider

require_provider("replicate")  # the rest of this module needs its package
import replicate
from emulators.replicate import TOKEN, ReplicateEmulator
from media_utils import make_image
from replicate.exceptions import ModelError, ReplicateError

from reelforge.media.probe import probe

HOTSHOT = "lucataco/hotshot-xl:78b3a6257e16e4b241245d65c8b2b81ea2e1ff7ed4c55306b511509ddbfd327a"
ZEROSCOPE_VERSION = "9f747673945c62801b13b84701c783929c0ee784e4748ec062204894dda1a351"


@pytest.fixture
def emu() -> Iterator[ReplicateEmulator]:
    with ReplicateEmulator() as emulator:
        yield emulator


@pytest.fixture
def sdk(emu, monkeypatch) -> replicate.Client:
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.01")
    return replicate.Client(api_token=TOKEN, base_url=emu.url)


def fetch(url: str, dest: Path) -> Path:
    dest.write_bytes(httpx.get(url).raise_for_status().content)
    return dest


def test_create_wait_and_download_a_versioned_prediction(emu, sdk, tmp_path):
    prediction = sdk.predictions.create(version=ZEROSCOPE_VERSION, input={"prompt": "waves", "num_frames": 24, "fps": 8})
    assert prediction.status == "starting" and prediction.urls["get"].endswith(prediction.id)
    prediction.wait()
    assert prediction.status == "succeeded" and isinstance(prediction.output, list)  # zeroscope returns a list
    assert prediction.progress is not None and prediction.progress.percentage == 1.0
    info = probe(fetch(prediction.output[0], tmp_path / "z.mp4"))
    assert info.codec == "h264" and info.frames == 24
    (create,) = emu.requests_to("create")
    assert create.path == "/v1/predictions" and create.json["version"] == ZEROSCOPE_VERSION
    assert create.headers["authorization"] == f"Bearer {TOKEN}" and "prefer" not in create.headers


def test_official_model_with_bounded_prefer_wait(emu, sdk):
    prediction = sdk.models.predictions.create(model="minimax/video-01", input={"prompt": "a fox"}, wait=2)
    assert emu.requests_to("create")[0].headers["prefer"] == "wait=2"
    # 2 emulated seconds = one step: the create answers with the state the job reached meanwhile.
    assert prediction.status == "processing"
    assert [sdk.predictions.get(prediction.id).status for _ in range(2)] == ["processing", "succeeded"]


def test_run_blocks_with_prefer_wait_and_returns_the_url(emu, sdk, tmp_path):
    output = sdk.run(HOTSHOT, input={"prompt": "a cat", "mp4": True}, use_file_output=False)
    assert emu.requests_to("create")[0].headers["prefer"] == "wait"
    assert isinstance(output, str) and probe(fetch(output, tmp_path / "h.mp4")).frames == 24


def test_cancel(emu, sdk):
    emu.hold_jobs = True
    prediction = sdk.models.predictions.create(model="minimax/video-01", input={"prompt": "a fox"})
    assert sdk.predictions.cancel(prediction.id).status == "canceled"
    assert sdk.predictions.get(prediction.id).status == "canceled"


def test_file_upload_then_use_as_input(emu, sdk, tmp_path):
    image = make_image(tmp_path / "f.png", (320, 180), "blue")
    uploaded = sdk.files.create(image)
    assert uploaded.content_type == "image/png" and uploaded.size == image.stat().st_size
    assert sdk.files.get(uploaded.id).urls["get"] == uploaded.urls["get"]
    prediction = sdk.models.predictions.create(
        model="wan-video/wan-2.2-i2v-fast", input={"prompt": "zoom", "image": uploaded.urls["get"]})
    prediction.wait()
    assert prediction.status == "succeeded"


def test_problem_json_errors_parse_into_replicate_error(emu, sdk):
    with pytest.raises(ReplicateError) as err:
        replicate.Client(api_token="bad", base_url=emu.url).predictions.get("x")
    assert err.value.status == 401 and err.value.title == "Unauthenticated"
    with pytest.raises(ReplicateError) as err:
        sdk.models.predictions.create(model="minimax/video-01", input={"prompt": 3})
    assert err.value.status == 422 and "input.prompt" in err.value.detail
    emu.inject("create", status=402)
    with pytest.raises(ReplicateError) as err:
        sdk.models.predictions.create(model="minimax/video-01", input={"prompt": "a"})
    assert err.value.status == 402 and err.value.title == "Insufficient credit"


def test_sdk_transport_retries_reads_on_429_with_retry_after_but_never_creates(emu, sdk):
    prediction = sdk.models.predictions.create(model="minimax/video-01", input={"prompt": "a"})
    emu.inject("poll", status=429, retry_after=0, times=2)
    assert sdk.predictions.get(prediction.id).id == prediction.id
    assert emu.count("poll") == 3
    emu.inject("create", status=503)
    with pytest.raises(ReplicateError):
        sdk.models.predictions.create(model="minimax/video-01", input={"prompt": "a"})
    assert emu.count("create") == 2  # the failed POST was not replayed


def test_failed_prediction_raises_model_error_from_run(emu, sdk):
    emu.fail_with("E005", "The input or output was flagged as sensitive.")
    with pytest.raises(ModelError) as err:
        sdk.run(HOTSHOT, input={"prompt": "x"})
    assert "E005" in str(err.value)


async def test_async_client_create_and_wait(emu, sdk):
    prediction = await sdk.predictions.async_create(version=ZEROSCOPE_VERSION, input={"prompt": "rain"})
    await prediction.async_wait()
    assert prediction.status == "succeeded" and prediction.metrics["predict_time"] > 0
