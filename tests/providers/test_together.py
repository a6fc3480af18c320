"""The Together AI adapter against the loopback Together emulator: wire format, inputs, faults, errors."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import pytest
from provider_utils import require_provider

require_provider("together")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, file_ref, make_spec, model_entry, poll_to_end, probe, run_remote
from emulators.together import API_KEY, TogetherEmulator
from media_utils import make_image

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
from reelforge.generation_spec import MediaRef
from reelforge.providers.base import RemoteState
from reelforge.providers.together.adapter import TogetherProvider

URL = MediaRef(kind="url", url="https://images.example.com/frame.png", mime="image/png")


@pytest.fixture
def emu():
    with TogetherEmulator() as emulator:
        yield emulator


@pytest.fixture
def together(emu, tmp_path, settings):
    return TogetherProvider(adapter_settings(tmp_path, TOGETHER_API_KEY=emu.api_key, TOGETHER_BASE_URL=emu.url))


def spec_for(model: str, **fields):
    """A catalog-default spec as the studio hands it over: already through the adapter's `normalize`."""
    provider = TogetherProvider(adapter_settings(Path(tempfile.gettempdir())))
    return provider.normalize(make_spec("together", model, **fields), model_entry("together", model))[0]


async def test_text_to_video_end_to_end_reports_the_charged_cost(together, emu, tmp_path):
    spec = spec_for("video-01-director", seed=7, negative_prompt="blur")
    remote_id, seen = await run_remote(together, spec, tmp_path / "out.mp4")
    assert emu.count("create") == 1
    create = emu.requests_to("create")[0]
    assert create.path == "/v2/videos" and create.headers["authorization"] == f"Bearer {API_KEY}"
    assert create.json == {"model": "minimax/video-01-director", "prompt": spec.prompt, "width": 1366, "height": 768,
                           "seconds": "5", "seed": 7, "negative_prompt": "blur"}
    assert [s.raw_status for s in seen][0] == "queued" and seen[-1].raw_status == "completed"
    assert "in_progress" in [s.raw_status for s in seen]
    assert all(s.progress is None for s in seen)  # Together reports none; never invented
    assert seen[-1].cost_usd == pytest.approx(0.28)  # outputs.cost, the amount charged
    info = probe(tmp_path / "out.mp4")
    assert info["codec"] == "h264" and info["frames"] == 120 and info["seconds"] == pytest.approx(5, abs=0.1)


async def test_exact_sizes_and_fps_choice_go_on_the_wire(together, emu, tmp_path):
    spec = spec_for("pixverse-v5", aspect_ratio="3:4", resolution="540p", fps=16)
    assert (spec.width, spec.height) == (405, 540)
    await together.submit(spec, model_entry("together", "pixverse-v5"))
    body = emu.requests_to("create")[0].json
    assert (body["width"], body["height"], body["fps"], body["seconds"]) == (405, 540, 16, "5")


def test_normalize_snaps_to_the_model_size_with_a_note(together):
    spec = make_spec("together", "seedance-1.0-pro", aspect_ratio="16:9", resolution="720p")
    fixed, notes = together.normalize(spec, model_entry("together", "seedance-1.0-pro"))
    assert (fixed.width, fixed.height) == (1248, 704) and "1248x704" in notes[0]


async def test_local_first_and_last_frames_go_inline_as_base64(together, emu, tmp_path):
    first = make_image(tmp_path / "a.png", color="red")
    last = make_image(tmp_path / "b.jpg", color="green")
    spec = spec_for("seedance-1.0-lite", first_frame=file_ref(first), last_frame=file_ref(last, "image/jpeg"))
    await run_remote(together, spec, tmp_path / "out.mp4")
    frames = emu.requests_to("create")[0].json["media"]["frame_images"]
    assert [f["frame"] for f in frames] == ["first", "last"]
    assert frames[0]["input_image"].startswith("iVBOR")  # raw base64 of a PNG, Together's documented form


async def test_public_image_url_is_passed_as_given_and_prompt_is_optional_on_kling_pro(together, emu, tmp_path):
    spec = spec_for("kling-2.1-pro", prompt="", first_frame=URL)
    await run_remote(together, spec, tmp_path / "out.mp4")
    body = emu.requests_to("create")[0].json
    assert "prompt" not in body and body["media"] == {"frame_images": [{"input_image": URL.url, "frame": "first"}]}


# --- refusals before anything is sent ------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields", "param"),
    [
        ("veo-3.0", {"aspect_ratio": "1:1"}, "aspect_ratio"),
        ("veo-3.0-audio", {"audio": False}, "audio"),
        ("sora-2", {"last_frame": "x", "first_frame": "x"}, "last_image"),
        ("kling-2.1-master", {"continue_remote_id": "abc"}, "continue_remote_id"),
        ("vidu-q1", {"first_frame": MediaRef(kind="url", url="http://example.com/a.png")}, "image"),
    ],
)
def test_normalize_refuses_model_specific_combinations(together, tmp_path, model, fields, param):
    for key in ("first_frame", "last_frame"):
        if fields.get(key) == "x":
            fields[key] = file_ref(make_image(tmp_path / f"{key}.png"))
    with pytest.raises(UnsupportedParameter) as info:
        together.normalize(make_spec("together", model, **fields), model_entry("together", model))
    assert info.value.param == param


async def test_a_large_local_image_is_refused_before_any_request(together, emu, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(make_image(tmp_path / "seed.png").read_bytes() + b"\0" * 70_000)
    spec = make_spec("together", "veo-3.0-fast", first_frame=file_ref(big))
    with pytest.raises(InvalidRequest, match="https:// URL") as info:
        together.normalize(spec, model_entry("together", "veo-3.0-fast"))
    assert info.value.param == "image"
    with pytest.raises(InvalidRequest):
        await together.submit(spec, model_entry("together", "veo-3.0-fast"))
    assert emu.requests == []


async def test_missing_key_names_the_variable_and_sends_nothing(emu, tmp_path, settings):
    provider = TogetherProvider(adapter_settings(tmp_path, TOGETHER_BASE_URL=emu.url))
    with pytest.raises(MissingCredentials, match="TOGETHER_API_KEY"):
        await provider.submit(spec_for("veo-3.0-fast"), model_entry("together", "veo-3.0-fast"))
    assert emu.requests == []


async def test_wrong_key_is_auth_failed_and_never_shown(emu, tmp_path, settings, caplog):
    provider = TogetherProvider(adapter_settings(tmp_path, TOGETHER_API_KEY="tgp_wrong_secret_123",
                                                 TOGETHER_BASE_URL=emu.url))
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthFailed, match="TOGETHER_API_KEY") as info:
        await provider.submit(spec_for("veo-3.0-fast"), model_entry("together", "veo-3.0-fast"))
    assert "tgp_wrong_secret_123" not in str(info.value) and "tgp_wrong_secret_123" not in caplog.text


async def test_an_echoed_key_and_signed_url_are_redacted(together, emu, caplog):
    emu.inject("create", echo_status=400)
    with caplog.at_level(logging.DEBUG), pytest.raises(InvalidRequest) as info:
        await together.submit(spec_for("veo-3.0-fast"), model_entry("together", "veo-3.0-fast"))
    assert API_KEY not in str(info.value) and API_KEY not in caplog.text


async def test_provider_validation_error_names_our_parameter(together, emu):
    # Skip normalize on purpose: the emulator's own validation must answer like Together does.
    spec = make_spec("together", "veo-3.0-fast", aspect_ratio="16:9").model_copy(update={"duration_s": 5.0})
    with pytest.raises(InvalidRequest, match="seconds must be one of") as info:
        await together.submit(spec, model_entry("together", "veo-3.0-fast"))
    assert info.value.param == "duration_s"


async def test_insufficient_credit(together, emu):
    emu.inject("create", status=402, body={"error": {"message": "Credit limit exceeded", "type": "billing",
                                                     "param": None, "code": "credit_limit"}})
    with pytest.raises(InsufficientCredits, match="Credit limit"):
        await together.submit(spec_for("veo-3.0-fast"), model_entry("together", "veo-3.0-fast"))


async def test_rate_limited_create_is_not_retried(together, emu):
    emu.inject("create", status=429, retry_after=30)
    with pytest.raises(RateLimited) as info:
        await together.submit(spec_for("veo-3.0-fast"), model_entry("together", "veo-3.0-fast"))
    assert info.value.retry_after == 30 and emu.count("create") == 1


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 502}, {"status": 504}, {"drop": True, "process": True},
                                   {"malformed": True}])
async def test_lost_create_answers_are_outcome_unknown_and_never_resent(together, emu, fault):
    emu.inject("create", **fault)
    with pytest.raises(OutcomeUnknown, match="Do not submit again"):
        await together.submit(spec_for("veo-3.0-fast"), model_entry("together", "veo-3.0-fast"))
    assert emu.count("create") == 1


# --- status reads, failures, cancel, downloads ---------------------------------------------------


async def test_status_reads_ride_out_429_5xx_and_garbage(together, emu):
    model = model_entry("together", "veo-3.0-fast")
    remote_id = await together.submit(spec_for("veo-3.0-fast"), model)
    emu.inject("poll", status=429, retry_after_ms=20, times=2)
    emu.inject("poll", status=503)
    emu.inject("poll", malformed=True)
    seen = await poll_to_end(together, remote_id, model)
    assert seen[-1].state is RemoteState.SUCCEEDED and seen[-1].cost_usd == pytest.approx(0.80)
    assert emu.count("poll") == len(seen) + 4


@pytest.mark.parametrize(("code", "cls"), [("content_policy_violation", ContentRejected),
                                           ("internal_error", ProviderFailure)])
async def test_failed_jobs_map_to_actionable_errors(together, emu, code, cls):
    emu.fail_next = (code, "The request could not be completed")
    model = model_entry("together", "veo-3.0-fast")
    seen = await poll_to_end(together, await together.submit(spec_for("veo-3.0-fast"), model), model)
    assert seen[-1].state is RemoteState.FAILED and isinstance(seen[-1].error, cls)
    assert code in str(seen[-1].error) and seen[-1].cost_usd is None


async def test_cancel_sends_nothing_and_a_cancelled_job_reads_canceled(together, emu):
    model = model_entry("together", "veo-3.0-fast")
    remote_id = await together.submit(spec_for("veo-3.0-fast"), model)
    before = len(emu.requests)
    await together.cancel(remote_id, model)  # Together has no cancel endpoint: the job runs on
    assert len(emu.requests) == before
    emu.cancel_from_dashboard(remote_id)
    assert (await together.poll(remote_id, model)).state is RemoteState.CANCELED


async def test_expired_output_link_is_refreshed_by_reading_the_job_again(together, emu, tmp_path):
    model = model_entry("together", "veo-3.0-fast")
    remote_id = await together.submit(spec_for("veo-3.0-fast"), model)
    final = (await poll_to_end(together, remote_id, model))[-1]
    emu.expire_outputs()
    polls = emu.count("poll")
    await together.download(final, model, tmp_path / "out.mp4")
    assert emu.count("poll") == polls + 1 and emu.count("download") == 2
    assert "authorization" not in emu.requests_to("download")[0].headers  # the key never goes to the link
    assert probe(tmp_path / "out.mp4")["frames"] == 192


async def test_an_unknown_status_reads_as_running(together, emu):
    model = model_entry("together", "veo-3.0-fast")
    remote_id = await together.submit(spec_for("veo-3.0-fast"), model)
    emu.inject("poll", status=200, body={"id": remote_id, "status": "claimed"})
    status = await together.poll(remote_id, model)
    assert status.state is RemoteState.RUNNING and status.raw_status == "claimed"


def test_catalog_rows():
    veo = model_entry("together", "veo-3.0-fast")
    assert veo.remote_name == "google/veo-3.0-fast" and veo.price.estimate and veo.price.unit == "per_video"
    assert model_entry("together", "video-01-director").price.usd == 0.28
    assert all(m.max_poll_seconds and m.poll_interval_s for m in
               __import__("reelforge.providers.registry", fromlist=["x"]).load_catalog().providers["together"].models)


async def test_a_lost_create_cannot_be_recovered_through_the_api(together, emu):
    """Together has no list endpoint and no client reference on the create: the dashboard is the only way."""
    import time

    from reelforge.errors import CannotRecover
    from reelforge.providers.base import LostCreate

    spec = spec_for("veo-3.0-fast")
    lost = LostCreate(job_id="job-1", spec=spec, sent_after=time.time() - 5, sent_before=time.time())
    with pytest.raises(CannotRecover, match="dashboard"):
        await together.find_lost(lost, model_entry("together", "veo-3.0-fast"))
    assert emu.requests == []
