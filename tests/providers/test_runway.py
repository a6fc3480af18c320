"""The Runway adapter against the loopback Runway emulator: wire format, inputs, faults, errors."""

from __future__ import annotations

import numpy as np
import pytest
from provider_utils import require_provider

require_provider("runway")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, file_ref, make_spec, model_entry, poll_to_end, probe, run_remote
from emulators.runway import RunwayEmulator
from media_utils import make_clip, make_image
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
from reelforge.providers.base import RemoteState
from reelforge.providers.runway.adapter import RunwayProvider
from reelforge.generation_spec import MediaRef


@pytest.fixture
def emu():
    with RunwayEmulator() as emulator:
        yield emulator


@pytest.fixture
def runway(emu, tmp_path, settings):
    return RunwayProvider(adapter_settings(tmp_path, RUNWAYML_API_SECRET=emu.api_key, RUNWAYML_BASE_URL=emu.url))


async def test_text_to_video_end_to_end(runway, emu, tmp_path):
    spec = make_spec("runway", "gen4.5", duration_s=2, seed=7)
    dest = tmp_path / "out.mp4"
    remote_id, seen = await run_remote(runway, spec, dest)

    assert emu.count("create") == 1
    create = emu.requests_to("create")[0]
    assert create.path == "/v1/text_to_video"
    assert create.headers["x-runway-version"] == "2024-11-06"
    assert create.json == {"model": "gen4.5", "promptText": spec.prompt, "seed": 7, "ratio": "1280:720", "duration": 2}
    states = [s.raw_status for s in seen]
    assert states[0] == "PENDING" and states[-1] == "SUCCEEDED" and "RUNNING" in states
    running = [s.progress for s in seen if s.state is RemoteState.RUNNING]
    assert running and all(p is not None and 0 < p < 1 for p in running)  # the provider's own numbers
    assert all(s.progress is None for s in seen if s.raw_status == "PENDING")  # never invented
    assert seen[-1].cost_usd == pytest.approx(0.24)  # 12 credits/s x 2 s
    info = probe(dest)
    assert info["codec"] == "h264" and info["frames"] == 48 and info["seconds"] == pytest.approx(2, abs=0.1)


async def test_image_to_video_from_a_local_file_goes_inline(runway, emu, tmp_path):
    image = make_image(tmp_path / "first.png", (160, 90), "blue")
    spec = make_spec("runway", "gen4_turbo", duration_s=2, first_frame=file_ref(image), aspect_ratio="1:1")
    await run_remote(runway, spec, tmp_path / "out.mp4")
    body = emu.requests_to("create")[0].json
    assert emu.requests_to("create")[0].path == "/v1/image_to_video"
    assert body["ratio"] == "960:960"
    assert body["promptImage"].startswith("data:image/png;base64,")
    assert probe(tmp_path / "out.mp4")["frames"] == 48


async def test_public_https_image_url_is_passed_as_given(runway, emu, tmp_path):
    url = "https://images.example.com/frame.png"
    spec = make_spec("runway", "gen4_turbo", duration_s=2, first_frame=MediaRef(kind="url", url=url, mime="image/png"))
    runway.normalize(spec, model_entry("runway", "gen4_turbo"))
    await run_remote(runway, spec, tmp_path / "out.mp4")
    assert emu.requests_to("create")[0].json["promptImage"] == url


async def test_first_and_last_frame_on_veo(runway, emu, tmp_path):
    first = make_image(tmp_path / "a.jpg", color="red")
    last = make_image(tmp_path / "b.png", color="green")
    spec = make_spec(
        "runway", "veo3.1_fast", duration_s=4, resolution="1080p", aspect_ratio="9:16",
        first_frame=file_ref(first, "image/jpeg"), last_frame=file_ref(last), negative_prompt="blur",
    )  # fmt: skip
    runway.normalize(spec, model_entry("runway", "veo3.1_fast"))
    await run_remote(runway, spec, tmp_path / "out.mp4")
    body = emu.requests_to("create")[0].json
    assert body["ratio"] == "1080:1920" and body["audio"] is False and body["negativePrompt"] == "blur"
    assert [p["position"] for p in body["promptImage"]] == ["first", "last"]
    assert body["promptImage"][0]["uri"].startswith("data:image/jpeg;base64,")


@pytest.mark.slow
async def test_large_image_uses_the_ephemeral_upload(runway, emu, tmp_path):
    noise = np.random.default_rng(0).integers(0, 255, (1300, 1500, 3), dtype=np.uint8)
    big = tmp_path / "big.png"
    Image.fromarray(noise).save(big, compress_level=0)
    assert big.stat().st_size > 5 * 1024 * 1024
    spec = make_spec("runway", "gen4.5", duration_s=2, first_frame=file_ref(big))
    await run_remote(runway, spec, tmp_path / "out.mp4")
    assert emu.count("upload") == 1 and emu.count("upload_target") == 1
    assert "authorization" not in emu.requests_to("upload_target")[0].headers
    uri = emu.requests_to("create")[0].json["promptImage"]
    assert uri.startswith("runway://") and emu.uploads[uri] == big.read_bytes()


async def test_video_to_video_sends_the_clip(runway, emu, tmp_path):
    clip = make_clip(tmp_path / "in.mp4", seconds=1, audio=False)
    spec = make_spec("runway", "aleph2", prompt="make it snow", video=file_ref(clip, "video/mp4"))
    _, notes = runway.normalize(spec, model_entry("runway", "aleph2"))
    assert "input's length" in notes[0]
    await run_remote(runway, spec, tmp_path / "out.mp4")
    create = emu.requests_to("create")[0]
    assert create.path == "/v1/video_to_video"
    assert create.json["videoUri"].startswith("data:video/mp4;base64,") and "ratio" not in create.json
    assert probe(tmp_path / "out.mp4")["codec"] == "h264"


# --- refusals before anything is sent ------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields", "param"),
    [
        ("gen4.5", {"aspect_ratio": "4:3"}, "aspect_ratio"),  # text-to-video: 16:9 / 9:16 only
        ("gen4.5", {"last_frame": "x"}, "last_frame"),
        ("gen4_turbo", {}, "first_frame"),  # image required
        ("veo3.1", {"last_frame": "x", "duration_s": 4}, "first_frame"),  # last alone is not allowed
        ("gen4.5", {"continue_remote_id": "abc"}, "continue_remote_id"),
        ("veo3", {"audio": False}, "audio"),
        ("gen4_turbo", {"first_frame": MediaRef(kind="url", url="http://example.com/a.png")}, "first_frame"),
    ],
)
def test_normalize_refuses_model_specific_combinations(runway, tmp_path, model, fields, param):
    if fields.get("last_frame") == "x":
        fields["last_frame"] = file_ref(make_image(tmp_path / "l.png"))
    with pytest.raises(UnsupportedParameter) as info:
        runway.normalize(make_spec("runway", model, **fields), model_entry("runway", model))
    assert info.value.param == param


async def test_missing_key_names_the_variable_and_sends_nothing(emu, tmp_path, settings):
    provider = RunwayProvider(adapter_settings(tmp_path, RUNWAYML_BASE_URL=emu.url))
    with pytest.raises(MissingCredentials, match="RUNWAYML_API_SECRET"):
        await provider.submit(make_spec("runway", "gen4.5", duration_s=2), model_entry("runway", "gen4.5"))
    assert emu.requests == []


async def test_wrong_key_is_auth_failed(emu, tmp_path, settings):
    provider = RunwayProvider(adapter_settings(tmp_path, RUNWAYML_API_SECRET="key_wrong", RUNWAYML_BASE_URL=emu.url))
    with pytest.raises(AuthFailed, match="RUNWAYML_API_SECRET") as info:
        await provider.submit(make_spec("runway", "gen4.5", duration_s=2), model_entry("runway", "gen4.5"))
    assert "key_wrong" not in str(info.value)  # the key never reaches a message
    assert emu.requests[0].headers["authorization"] == "Bearer key_wrong"


async def test_provider_validation_error_names_our_parameter(runway, emu):
    # Skip normalize on purpose: the emulator's own validation must answer like Runway does.
    spec = make_spec("runway", "gen4.5", aspect_ratio="4:3", duration_s=2)
    with pytest.raises(InvalidRequest, match="Invalid parameter 'ratio'") as info:
        await runway.submit(spec, model_entry("runway", "gen4.5"))
    assert info.value.param == "aspect_ratio"


async def test_insufficient_credits(runway, emu):
    emu.credits = 5
    with pytest.raises(InsufficientCredits, match="enough credits"):
        await runway.submit(make_spec("runway", "gen4.5", duration_s=2), model_entry("runway", "gen4.5"))


async def test_rate_limited_create_is_not_retried(runway, emu):
    emu.inject("create", status=429, retry_after=30)
    with pytest.raises(RateLimited) as info:
        await runway.submit(make_spec("runway", "gen4.5", duration_s=2), model_entry("runway", "gen4.5"))
    assert info.value.retry_after == 30 and emu.count("create") == 1


@pytest.mark.parametrize("fault", [{"status": 502}, {"drop": True, "process": True}, {"malformed": True}])
async def test_lost_create_answers_are_outcome_unknown(runway, emu, fault):
    emu.inject("create", **fault)
    with pytest.raises(OutcomeUnknown, match="Do not submit again"):
        await runway.submit(make_spec("runway", "gen4.5", duration_s=2), model_entry("runway", "gen4.5"))
    assert emu.count("create") == 1


# --- status reads, failures, cancel, downloads ---------------------------------------------------


async def test_status_reads_ride_out_429_5xx_and_garbage(runway, emu, tmp_path):
    model = model_entry("runway", "gen4.5")
    remote_id = await runway.submit(make_spec("runway", "gen4.5", duration_s=2), model)
    emu.inject("poll", status=429, retry_after_ms=20, times=2)
    emu.inject("poll", status=503)
    emu.inject("poll", malformed=True)
    seen = await poll_to_end(runway, remote_id, model)
    assert seen[-1].state is RemoteState.SUCCEEDED
    assert emu.count("poll") == len(seen) + 4


@pytest.mark.parametrize(
    ("code", "cls"),
    [("SAFETY.INPUT.TEXT", ContentRejected), ("INTERNAL.BAD_OUTPUT", ProviderFailure), ("ASSET.INVALID", InvalidRequest)],
)
async def test_failed_tasks_map_to_actionable_errors(runway, emu, code, cls):
    emu.fail_next = (code, "The prompt did not pass review")
    model = model_entry("runway", "gen4.5")
    seen = await poll_to_end(runway, await runway.submit(make_spec("runway", "gen4.5", duration_s=2), model), model)
    assert seen[-1].state is RemoteState.FAILED and isinstance(seen[-1].error, cls)
    assert code in str(seen[-1].error)


async def test_throttled_tasks_are_queued_not_failed(runway, emu):
    emu.max_concurrency = 1
    model = model_entry("runway", "gen4.5")
    await runway.submit(make_spec("runway", "gen4.5", duration_s=2), model)
    second = await runway.submit(make_spec("runway", "gen4.5", duration_s=3), model)
    seen = await poll_to_end(runway, second, model)
    assert seen[0].raw_status == "THROTTLED" and seen[0].state is RemoteState.QUEUED
    assert seen[-1].state is RemoteState.SUCCEEDED


async def test_cancel_stops_a_running_task(runway, emu):
    model = model_entry("runway", "gen4.5")
    remote_id = await runway.submit(make_spec("runway", "gen4.5", duration_s=2), model)
    await runway.poll(remote_id, model)
    await runway.cancel(remote_id, model)
    assert (await runway.poll(remote_id, model)).state is RemoteState.CANCELED
    assert emu.requests_to("cancel")[0].headers["accept"] == "*/*"
    await runway.cancel("no-such-task", model)  # already gone: not an error


async def test_expired_output_link_is_refreshed_by_reading_the_task_again(runway, emu, tmp_path):
    model = model_entry("runway", "gen4.5")
    remote_id = await runway.submit(make_spec("runway", "gen4.5", duration_s=2), model)
    final = (await poll_to_end(runway, remote_id, model))[-1]
    emu.expire_outputs()
    polls = emu.count("poll")
    await runway.download(final, model, tmp_path / "out.mp4")
    assert emu.count("poll") == polls + 1 and emu.count("download") == 2
    assert probe(tmp_path / "out.mp4")["frames"] == 48


async def test_slow_download_still_lands_whole(runway, emu, tmp_path):
    emu.inject("download", chunk_pause_s=0.001)
    await run_remote(runway, make_spec("runway", "gen4.5", duration_s=2), tmp_path / "out.mp4")
    assert probe(tmp_path / "out.mp4")["frames"] == 48
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_aleph2_quote_applies_the_minimum_charge(tmp_path):
    from reelforge.studio.pricing import quote

    clip = file_ref(tmp_path / "in.mp4", "video/mp4")
    assert quote(make_spec("runway", "aleph2", video=clip, duration_s=1), model_entry("runway", "aleph2")).usd == 0.56
    assert quote(make_spec("runway", "aleph2", video=clip, duration_s=5), model_entry("runway", "aleph2")).usd == 1.40


def test_catalog_prices_and_rules():
    gen45 = model_entry("runway", "gen4.5")
    assert gen45.price.usd == 0.12 and gen45.capabilities.durations.accepts(10)
    veo = model_entry("runway", "veo3.1")
    assert veo.price.audio_usd == 0.20 and veo.capabilities.durations.choices == [4, 6, 8]
    assert model_entry("runway", "veo3").status == "deprecated"


async def test_an_unknown_task_status_reads_as_running_not_failed(runway, emu):
    """The shared unknown-state rule (providers/base.py): a status word Runway has not documented may be a
    task still running and billing, so it reads as RUNNING with the raw word, never a terminal failure.
    (Runway's adapter used to raise ProviderFailure here, which ended a job that could still deliver.)"""
    model = model_entry("runway", "gen4.5")
    remote_id = await runway.submit(make_spec("runway", "gen4.5", duration_s=2), model)
    emu.inject("poll", status=200, body={"id": remote_id, "status": "WARMING_UP"})
    status = await runway.poll(remote_id, model)
    assert status.state is RemoteState.RUNNING and status.raw_status == "WARMING_UP" and status.error is None
    assert (await poll_to_end(runway, remote_id, model))[-1].state is RemoteState.SUCCEEDED
