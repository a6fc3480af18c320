"""The Replicate adapter (official SDK inside, reelforge HTTP rules) against the loopback emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from provider_utils import require_provider

require_provider("replicate")  # the rest of this module needs its package
from adapter_helpers import make_spec, model_entry, poll_to_end
from emulators.replicate import TOKEN, ReplicateEmulator, decode_data_uri
from media_utils import make_image
from PIL import Image

from reelforge.errors import (
    AuthFailed,
    ContentRejected,
    InsufficientCredits,
    InvalidRequest,
    MissingCredentials,
    OutcomeUnknown,
    ProviderFailure,
    RateLimited,
    UnsupportedParameter,
)
from reelforge.media.probe import probe
from reelforge.providers.base import RemoteState, RemoteStatus
from reelforge.providers.http import RetryPolicy, new_client
from reelforge.providers.replicate.adapter import MAX_DATA_URI_BYTES, ReplicateProvider
from reelforge.generation_spec import GenerationSpec, MediaRef
from reelforge.settings import Settings

#: Real retry code paths with millisecond waits.
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=5.0)
LTX_VERSION = "8c47da666861d081eeb4d1261853087de23923a268a69b63febdf5dc1dee08e4"


@pytest.fixture
def emu() -> Iterator[ReplicateEmulator]:
    with ReplicateEmulator() as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with new_client(timeout=httpx.Timeout(2.0, connect=1.0)) as client:
        yield client


def make_provider(emu, http, tmp_path: Path, token: str | None = TOKEN) -> ReplicateProvider:
    settings = Settings(home=tmp_path).with_provider_env(REPLICATE_API_TOKEN=token or "", REPLICATE_BASE_URL=emu.url)
    return ReplicateProvider(settings, http, retry=FAST_RETRY)


@pytest.fixture
def provider(emu, http, tmp_path) -> ReplicateProvider:
    return make_provider(emu, http, tmp_path)


def model(model_id: str = "minimax-video-01"):
    return model_entry("replicate", model_id)


def spec(model_id: str = "minimax-video-01", **kw) -> GenerationSpec:
    return make_spec("replicate", model_id, **{"prompt": "a paper boat on a river", **kw})


async def run_to_end(provider, remote_id: str, entry) -> RemoteStatus:
    return (await poll_to_end(provider, remote_id, entry))[-1]


async def generate(provider, entry, s: GenerationSpec, dest: Path) -> RemoteStatus:
    s, _ = provider.normalize(s, entry)
    status = await run_to_end(provider, await provider.submit(s, entry), entry)
    assert status.state is RemoteState.SUCCEEDED, status.error
    await provider.download(status, entry, dest)
    return status


async def test_official_model_text_to_video(emu, provider, tmp_path):
    entry = model()
    await generate(provider, entry, spec(), tmp_path / "t2v.mp4")
    info = probe(tmp_path / "t2v.mp4")
    assert info.codec == "h264" and info.frames == 24 and info.duration_s == pytest.approx(1.0, abs=0.05)

    (create,) = emu.requests_to("create")
    assert create.path == "/v1/models/minimax/video-01/predictions"
    assert create.json == {"input": {"prompt": "a paper boat on a river", "prompt_optimizer": True}}
    assert create.headers["prefer"] == "wait=5" and create.headers["authorization"] == f"Bearer {TOKEN}"


async def test_community_model_is_version_pinned_and_frames_snapped(emu, provider, tmp_path):
    entry = model("ltx-video")
    s, notes = provider.normalize(spec("ltx-video", duration_s=5, negative_prompt="blurry"), entry)
    assert s.duration_s == pytest.approx(129 / 24) and "129 frames at 24 fps" in notes[0]
    status = await run_to_end(provider, await provider.submit(s, entry), entry)
    await provider.download(status, entry, tmp_path / "ltx.mp4")  # list output: the first URL
    assert probe(tmp_path / "ltx.mp4").frames == 24

    body = emu.requests_to("create")[0]
    assert body.path == "/v1/predictions" and body.json["version"] == LTX_VERSION
    assert body.json["input"] == {"model": "0.9.1", "target_size": 640, "prompt": "a paper boat on a river",
                                  "negative_prompt": "blurry", "aspect_ratio": "16:9", "length": 129}


async def test_progress_comes_from_the_models_own_log_lines(emu, provider):
    emu.seconds_per_step = 1000  # nothing advances while the create waits
    entry = model()
    remote_id = await provider.submit(spec(), entry)
    seen = [await provider.poll(remote_id, entry) for _ in range(4)]
    assert [(s.raw_status, s.progress) for s in seen] == [
        ("starting", None), ("processing", 0.35), ("processing", 0.65), ("succeeded", 1.0)]


async def test_starting_prediction_has_no_progress(emu, provider):
    emu.hold_jobs = True
    entry = model()
    status = await provider.poll(await provider.submit(spec(), entry), entry)
    assert status.state is RemoteState.QUEUED and status.progress is None


async def test_small_local_image_goes_inline_as_data_uri(emu, provider, tmp_path):
    entry = model("stable-video-diffusion")
    image = make_image(tmp_path / "frame.png", (320, 180), "orange")
    ref = MediaRef(kind="file", path=str(image), mime="image/png")
    await generate(provider, entry, spec("stable-video-diffusion", prompt="", first_frame=ref), tmp_path / "svd.mp4")
    inputs = emu.requests_to("create")[0].json["input"]
    mime, data = decode_data_uri(inputs["input_image"])
    assert mime == "image/png" and data == image.read_bytes()
    # 4 s at 6 fps = 24 frames: the nearest choice (25) is named by the model's enum value.
    assert inputs["video_length"] == "25_frames_with_svd_xt" and inputs["frames_per_second"] == 6
    assert emu.count("upload") == 0


async def test_large_local_image_is_uploaded_through_the_files_api(emu, provider, tmp_path):
    path = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (400, 400, 3), dtype=np.uint8)).save(path)
    assert path.stat().st_size > MAX_DATA_URI_BYTES
    entry = model("wan-2.2-i2v-fast")
    ref = MediaRef(kind="file", path=str(path), mime="image/png")
    await generate(provider, entry, spec("wan-2.2-i2v-fast", first_frame=ref), tmp_path / "wan.mp4")

    (upload,) = emu.requests_to("upload")
    file_id = next(iter(emu.files))
    assert emu.uploaded_bytes(file_id) == path.read_bytes()
    assert emu.files[file_id]["content_type"] == "image/png"
    inputs = emu.requests_to("create")[0].json["input"]
    assert inputs["image"] == f"{emu.url}/v1/files/{file_id}" and inputs["num_frames"] == 81


async def test_missing_token_is_refused_before_any_request(emu, http, tmp_path):
    provider = make_provider(emu, http, tmp_path, token=None)
    with pytest.raises(MissingCredentials) as err:
        await provider.submit(spec(), model())
    assert "REPLICATE_API_TOKEN" in str(err.value) and emu.requests == []


async def test_wrong_token_names_the_variable(emu, http, tmp_path):
    provider = make_provider(emu, http, tmp_path, token="r8_wrong")
    with pytest.raises(AuthFailed) as err:
        await provider.submit(spec(), model())
    assert "REPLICATE_API_TOKEN" in str(err.value) and "r8_wrong" not in str(err.value)


async def test_normalize_refusals(provider):
    with pytest.raises(UnsupportedParameter) as err:
        provider.normalize(spec("stable-video-diffusion"), model("stable-video-diffusion"))
    assert err.value.param == "prompt"
    with pytest.raises(UnsupportedParameter) as err:
        provider.normalize(spec(extra={"cfg": 3}), model())
    assert err.value.param == "options" and "prompt_optimizer" in str(err.value)


async def test_input_validation_error_names_the_field(emu, provider):
    entry = model("wan-2.2-t2v-fast")
    s, _ = provider.normalize(spec("wan-2.2-t2v-fast", extra={"go_fast": "yes"}), entry)
    with pytest.raises(InvalidRequest) as err:
        await provider.submit(s, entry)
    assert err.value.param == "go_fast" and "Expected: bool" in str(err.value)
    assert emu.count("create") == 1


@pytest.mark.parametrize(
    ("fault", "error_class"),
    [({"status": 402}, InsufficientCredits), ({"status": 429, "retry_after": 9}, RateLimited),
     ({"status": 502}, OutcomeUnknown), ({"status": 500}, OutcomeUnknown), ({"malformed": True}, OutcomeUnknown),
     ({"drop": True, "process": True}, OutcomeUnknown)],
    ids=["402", "429", "502", "500", "malformed", "reply-lost"],
)
async def test_create_is_sent_exactly_once_whatever_happens(emu, provider, fault, error_class):
    emu.inject("create", **fault)
    with pytest.raises(error_class) as err:
        await provider.submit(spec(), model())
    assert emu.count("create") == 1
    if error_class is RateLimited:
        assert err.value.retry_after == 9
    if error_class is OutcomeUnknown:
        assert "Do not submit again" in str(err.value)


@pytest.mark.slow
async def test_reads_follow_our_retry_policy_not_the_sdks(emu, provider):
    entry = model()
    remote_id = await provider.submit(spec(), entry)
    emu.inject("poll", status=429, retry_after=0.02)
    emu.inject("poll", status=500)
    emu.inject("poll", malformed=True)
    status = await provider.poll(remote_id, entry)
    assert status.state in (RemoteState.RUNNING, RemoteState.SUCCEEDED) and emu.count("poll") == 4
    # The SDK's own transport would try 10 times; ours stops at the policy's 4 and names the wait.
    emu.inject("poll", status=429, retry_after=0.01, times=10)
    with pytest.raises(RateLimited):
        await provider.poll(remote_id, entry)
    assert emu.count("poll") == 4 + FAST_RETRY.max_attempts


@pytest.mark.parametrize(
    ("failure", "error_class"),
    [(("E005", "The input or output was flagged as sensitive. Please try again with different inputs."), ContentRejected),
     (("E001", "CUDA out of memory"), ProviderFailure)],
)
async def test_failed_prediction_maps_to_an_actionable_error(emu, provider, failure, error_class):
    emu.fail_with(*failure)
    entry = model()
    status = await run_to_end(provider, await provider.submit(spec(), entry), entry)
    assert status.state is RemoteState.FAILED and isinstance(status.error, error_class)
    assert failure[0] in str(status.error)


async def test_cancel_is_retried_and_ends_canceled(emu, provider):
    emu.hold_jobs = True
    entry = model()
    remote_id = await provider.submit(spec(), entry)
    emu.inject("cancel", status=503)
    await provider.cancel(remote_id, entry)
    assert emu.count("cancel") == 2
    status = await provider.poll(remote_id, entry)
    assert status.state is RemoteState.CANCELED and status.raw_status == "canceled"


async def test_create_refused_by_the_safety_filter_is_moderation(emu, provider):
    emu.inject("create", status=422, body={"title": "Input validation failed", "status": 422,
                                           "detail": "The input was flagged as sensitive (E005)"})
    with pytest.raises(ContentRejected):
        await provider.submit(spec(), model())


async def test_an_unknown_status_word_reads_as_running_not_failed(emu, provider, caplog):
    """The one unknown-state rule (providers/base.py): a status word we do not know is not a terminal
    failure, since the prediction may still be running and billing. It reads as RUNNING with the raw word
    shown, is logged once, and the poll loop's time budget bounds it. (Before the shared base, Replicate
    turned it into a ProviderFailure, which ended a job that might still deliver a paid video.)"""
    emu.inject("poll", status=200, body={"id": "x", "status": "exploded"}, times=2)
    with caplog.at_level("WARNING", logger="reelforge.providers.base"):
        first = await provider.poll("x", model())
        second = await provider.poll("x", model())
    for status in (first, second):
        assert status.state is RemoteState.RUNNING and status.raw_status == "exploded" and status.error is None
    assert sum("exploded" in r.getMessage() for r in caplog.records) == 1


async def test_unreadable_prediction_is_a_provider_failure_not_a_crash(emu, provider):
    emu.inject("poll", status=200, body={"id": "x", "status": "succeeded", "output": {"no": "urls"}})
    with pytest.raises(ProviderFailure) as err:
        await provider.poll("x", model())
    assert "unreadable prediction" in str(err.value)


async def test_models_taking_width_and_height_get_the_exact_size_of_their_resolution(emu, provider):
    entry = model("zeroscope-v2-xl")
    s, notes = provider.normalize(spec("zeroscope-v2-xl", width=1280, height=720, duration_s=3), entry)
    assert (s.width, s.height) == (1024, 576) and "1024x576" in notes[0]
    await provider.submit(s, entry)
    inputs = emu.requests_to("create")[0].json["input"]
    assert (inputs["width"], inputs["height"], inputs["num_frames"], inputs["fps"]) == (1024, 576, 24, 8)


@pytest.mark.slow
async def test_a_create_held_past_its_prefer_wait_is_not_cut_off(emu, tmp_path):
    """The SDK would allow only n + 0.5 s to read a `Prefer: wait=n` answer; a slower one must not become unknown."""
    emu.time_scale = 2.0  # 1 emulated second of waiting = 2 real seconds
    entry = model()
    entry = entry.model_copy(update={"facts": entry.facts.model_copy(update={"prefer_wait": 1})})
    async with new_client() as http:  # reelforge's default timeouts
        remote_id = await make_provider(emu, http, tmp_path).submit(spec(), entry)
    assert emu.requests_to("create")[0].headers["prefer"] == "wait=1" and remote_id in emu.jobs


async def test_polling_a_prediction_replicate_no_longer_knows(emu, provider):
    with pytest.raises(ProviderFailure) as err:
        await provider.poll("gone", model())
    assert "no longer knows" in str(err.value)


async def test_a_video_in_a_mixed_output_list_is_downloaded_first(emu, provider, tmp_path):
    entry = model()
    remote_id = await provider.submit(spec(), entry)
    status = await run_to_end(provider, remote_id, entry)
    video = status.output_urls[0]
    emu.inject("poll", status=200, body={**_prediction_json(emu, remote_id), "output": [f"{emu.url}/poster.png", video]})
    mixed = await provider.poll(remote_id, entry)
    assert mixed.output_urls == [video, f"{emu.url}/poster.png"]
    await provider.download(mixed, entry, tmp_path / "v.mp4")
    assert probe(tmp_path / "v.mp4").frames == 24


def _prediction_json(emu, remote_id: str) -> dict:
    return httpx.get(f"{emu.url}/v1/predictions/{remote_id}", headers={"Authorization": f"Bearer {TOKEN}"}).json()
