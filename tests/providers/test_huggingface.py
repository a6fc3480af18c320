"""The Hugging Face adapter against the loopback router emulator: routes, bodies, faults, errors."""

from __future__ import annotations

import logging

import pytest
from provider_utils import require_provider

require_provider("huggingface")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, file_ref, make_spec, model_entry, poll_to_end, probe, run_remote
from emulators.huggingface import TOKEN, HuggingFaceEmulator
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
from reelforge.providers.base import RemoteState
from reelforge.providers.huggingface.adapter import HuggingFaceProvider

FAL, TOGETHER, REPLICATE = "wan2.2-t2v-a14b-fal", "wan2.2-t2v-a14b-together", "wan2.1-t2v-480p-replicate"


@pytest.fixture
def emu():
    with HuggingFaceEmulator() as emulator:
        yield emulator


@pytest.fixture
def hf(emu, tmp_path, settings):
    return HuggingFaceProvider(adapter_settings(tmp_path, HF_TOKEN=TOKEN, HF_ROUTER_URL=emu.url))


def spec(model: str, **fields):
    return make_spec("huggingface", model, **fields)


async def test_fal_route_uses_the_queue_and_its_app_root(hf, emu, tmp_path):
    remote_id, seen = await run_remote(hf, spec(FAL, duration_s=5, seed=7, negative_prompt="blur",
                                                aspect_ratio="9:16", resolution="720p"), tmp_path / "out.mp4")
    create = emu.requests_to("create")[0]
    assert create.path == "/fal-ai/fal-ai/wan/v2.2-a14b/text-to-video" and create.query == {"_subdomain": ["queue"]}
    assert create.headers["authorization"] == f"Bearer {TOKEN}"
    assert create.json == {"prompt": "a red kite over a beach", "num_frames": 81, "aspect_ratio": "9:16",
                           "resolution": "720p", "frames_per_second": 16, "seed": 7, "negative_prompt": "blur"}
    polls = emu.requests_to("poll")
    assert {p.path for p in polls} == {f"/fal-ai/fal-ai/wan/requests/{remote_id}/status"}
    assert all(p.query == {"_subdomain": ["queue"]} for p in polls + emu.requests_to("result"))
    assert [s.raw_status for s in seen][0] == "IN_QUEUE" and seen[-1].state is RemoteState.SUCCEEDED
    assert "authorization" not in emu.requests_to("download")[0].headers  # the token stays with the router
    info = probe(tmp_path / "out.mp4")
    assert info["codec"] == "h264" and info["frames"] == 24


async def test_together_route_sends_size_and_string_seconds(hf, emu, tmp_path):
    remote_id, seen = await run_remote(hf, spec(TOGETHER, seed=3), tmp_path / "out.mp4")
    create = emu.requests_to("create")[0]
    assert create.path == "/together/v2/videos"
    assert create.json == {"model": "Wan-AI/Wan2.2-T2V-A14B", "prompt": "a red kite over a beach", "seconds": "5",
                           "width": 854, "height": 480, "fps": 16, "seed": 3, "output_format": "MP4"}
    assert emu.requests_to("poll")[0].path == f"/together/v2/videos/{remote_id}"
    assert [s.raw_status for s in seen] == ["queued", "in_progress", "in_progress", "completed"]
    assert seen[-1].cost_usd == pytest.approx(0.66)
    assert probe(tmp_path / "out.mp4")["frames"] == 24


async def test_replicate_route_never_blocks_on_prefer_wait(hf, emu, tmp_path):
    remote_id, seen = await run_remote(hf, spec(REPLICATE, aspect_ratio="9:16"), tmp_path / "out.mp4")
    create = emu.requests_to("create")[0]
    assert create.path == "/replicate/v1/models/wavespeedai/wan-2.1-t2v-480p/predictions"
    assert "prefer" not in create.headers  # the answer (with the id) comes at once, not after the video
    assert create.json == {"input": {"prompt": "a red kite over a beach", "aspect_ratio": "9:16"}}
    assert emu.requests_to("poll")[0].path == f"/replicate/v1/predictions/{remote_id}"
    assert seen[0].raw_status == "starting" and seen[-1].raw_status == "succeeded"
    assert probe(tmp_path / "out.mp4")["frames"] == 24
    assert [p["id"] for p in emu.prediction_list()] == [remote_id]  # findable later (issue 12)


# --- refusals before anything is sent ------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "param"),
    [({"first_frame": "x"}, "first_frame"), ({"continue_remote_id": "abc"}, "continue_remote_id"),
     ({"audio": True}, "audio"), ({"extra": {"num_inference_steps": 9}}, "num_inference_steps")],
)
def test_normalize_refuses_what_the_routes_cannot_carry(hf, tmp_path, fields, param):
    if fields.get("first_frame") == "x":
        fields["first_frame"] = file_ref(make_image(tmp_path / "f.png"))
    with pytest.raises(UnsupportedParameter) as info:
        hf.normalize(spec(FAL, **fields), model_entry("huggingface", FAL))
    assert info.value.param == param


async def test_missing_token_names_the_variable_and_sends_nothing(emu, tmp_path, settings):
    provider = HuggingFaceProvider(adapter_settings(tmp_path, HF_ROUTER_URL=emu.url))
    with pytest.raises(MissingCredentials, match="HF_TOKEN"):
        await provider.submit(spec(FAL), model_entry("huggingface", FAL))
    assert emu.requests == []


async def test_wrong_token_is_auth_failed_and_never_shown(emu, tmp_path, settings, caplog):
    caplog.set_level(logging.DEBUG)
    provider = HuggingFaceProvider(adapter_settings(tmp_path, HF_TOKEN="hf_wrong_secret_token", HF_ROUTER_URL=emu.url))
    with pytest.raises(AuthFailed, match="HF_TOKEN") as info:
        await provider.submit(spec(FAL), model_entry("huggingface", FAL))
    assert "hf_wrong_secret_token" not in str(info.value) and "hf_wrong_secret_token" not in caplog.text


async def test_a_provider_echoing_the_token_is_redacted(hf, emu):
    emu.inject("create", echo_status=400)
    with pytest.raises(InvalidRequest) as info:
        await hf.submit(spec(TOGETHER), model_entry("huggingface", TOGETHER))
    assert TOKEN not in str(info.value) and TOKEN not in (info.value.hint or "")


async def test_spent_included_credits_is_insufficient_credits(hf, emu):
    emu.credits_left = False
    with pytest.raises(InsufficientCredits, match="included credits") as info:
        await hf.submit(spec(FAL), model_entry("huggingface", FAL))
    assert "billing" in (info.value.hint or "") and emu.count("create") == 1


async def test_rate_limited_create_is_not_retried(hf, emu):
    emu.inject("create", status=429, retry_after=30)
    with pytest.raises(RateLimited) as info:
        await hf.submit(spec(REPLICATE), model_entry("huggingface", REPLICATE))
    assert info.value.retry_after == 30 and emu.count("create") == 1


@pytest.mark.parametrize("model", [FAL, TOGETHER, REPLICATE])
@pytest.mark.parametrize("fault", [{"status": 502}, {"status": 500}, {"drop": True, "process": True},
                                   {"malformed": True}])
async def test_lost_create_answers_are_outcome_unknown_and_never_resent(hf, emu, model, fault):
    emu.inject("create", **fault)
    with pytest.raises(OutcomeUnknown, match="Do not submit again"):
        await hf.submit(spec(model), model_entry("huggingface", model))
    assert emu.count("create") == 1


@pytest.mark.parametrize(("model", "fields", "wire"), [
    (FAL, {"aspect_ratio": "4:3"}, "aspect_ratio"), (TOGETHER, {"duration_s": 8}, "seconds"),
    (REPLICATE, {"aspect_ratio": "4:3"}, "aspect_ratio")])
async def test_provider_validation_errors_come_back_as_invalid_request(hf, emu, model, fields, wire):
    # Skip normalize and the catalog on purpose: the emulator's own validation must answer.
    with pytest.raises(InvalidRequest, match=wire):
        await hf.submit(spec(model, **fields), model_entry("huggingface", model))
    assert emu.count("create") == 1


# --- status reads, failures, cancel, downloads ---------------------------------------------------


@pytest.mark.parametrize("model", [FAL, TOGETHER, REPLICATE])
async def test_status_reads_ride_out_429_5xx_and_garbage(hf, emu, model):
    entry = model_entry("huggingface", model)
    remote_id = await hf.submit(spec(model), entry)
    emu.inject("poll", status=429, retry_after_ms=20, times=2)
    emu.inject("poll", status=503)
    emu.inject("poll", malformed=True)
    seen = await poll_to_end(hf, remote_id, entry)
    assert seen[-1].state is RemoteState.SUCCEEDED and emu.count("create") == 1


@pytest.mark.parametrize("model", [FAL, TOGETHER, REPLICATE])
@pytest.mark.parametrize(("code", "cls"), [("content_policy_violation", ContentRejected),
                                           ("internal_error", ProviderFailure)])
async def test_failed_jobs_map_to_actionable_errors(hf, emu, model, code, cls):
    emu.fail_next = (code, "The output was flagged by the safety checker" if "policy" in code else "GPU lost")
    entry = model_entry("huggingface", model)
    seen = await poll_to_end(hf, await hf.submit(spec(model), entry), entry)
    assert seen[-1].state is RemoteState.FAILED and isinstance(seen[-1].error, cls), seen[-1]


@pytest.mark.parametrize("model", [FAL, REPLICATE])
async def test_cancel_stops_a_running_job(hf, emu, model):
    entry = model_entry("huggingface", model)
    remote_id = await hf.submit(spec(model), entry)
    await hf.poll(remote_id, entry)
    await hf.cancel(remote_id, entry)
    assert (await hf.poll(remote_id, entry)).state is RemoteState.CANCELED
    assert emu.count("cancel") == 1
    await hf.cancel(remote_id, entry)  # already over: not an error


async def test_together_has_no_cancel_endpoint(hf, emu):
    entry = model_entry("huggingface", TOGETHER)
    remote_id = await hf.submit(spec(TOGETHER), entry)
    await hf.cancel(remote_id, entry)
    assert emu.count("cancel") == 0 and (await poll_to_end(hf, remote_id, entry))[-1].state is RemoteState.SUCCEEDED


@pytest.mark.parametrize("model", [FAL, TOGETHER, REPLICATE])
async def test_expired_output_link_is_refreshed_by_reading_the_job_again(hf, emu, tmp_path, model):
    entry = model_entry("huggingface", model)
    final = (await poll_to_end(hf, await hf.submit(spec(model), entry), entry))[-1]
    emu.expire_outputs()
    await hf.download(final, entry, tmp_path / "out.mp4")
    assert emu.count("download") == 2 and probe(tmp_path / "out.mp4")["frames"] == 24
    assert emu.count("create") == 1


async def test_an_unknown_status_reads_as_running(hf, emu):
    entry = model_entry("huggingface", TOGETHER)
    remote_id = await hf.submit(spec(TOGETHER), entry)
    emu.inject("poll", status=200, body={"id": remote_id, "status": "warming_up"})
    status = await hf.poll(remote_id, entry)
    assert status.state is RemoteState.RUNNING and status.raw_status == "warming_up" and status.error is None


def test_catalog_rows_carry_wait_budgets_and_estimates():
    for model in (FAL, TOGETHER, REPLICATE):
        entry = model_entry("huggingface", model)
        assert entry.max_poll_seconds and entry.poll_interval_s and entry.price.estimate
