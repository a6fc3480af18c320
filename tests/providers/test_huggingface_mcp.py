"""Hugging Face through the MCP tools (in-memory client) against the router emulator: a probed
file from each route, the quote, create faults ending in definite states, and cancel."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
from provider_utils import require_provider

require_provider("huggingface")  # the rest of this module needs its package
from adapter_helpers import job_after_create_fault, settle, start_job
from client_utils import make_client
from emulators.huggingface import TOKEN, HuggingFaceEmulator

from reelforge.media.probe import probe
from reelforge.settings import Settings

FAL = {"provider": "huggingface", "model": "wan2.2-t2v-a14b-fal", "prompt": "a kite over the dunes", "duration_s": 2}
TOGETHER = {"provider": "huggingface", "model": "wan2.2-t2v-a14b-together", "prompt": "a kite over the dunes"}
REPLICATE = {"provider": "huggingface", "model": "wan2.1-t2v-480p-replicate", "prompt": "a kite over the dunes"}


@pytest.fixture
def emu() -> Iterator[HuggingFaceEmulator]:
    with HuggingFaceEmulator() as emulator:
        yield emulator


@pytest.fixture
def hf_settings(settings: Settings, emu: HuggingFaceEmulator) -> Settings:
    return settings.with_provider_env(HF_TOKEN=TOKEN, HF_ROUTER_URL=emu.url)


@pytest.mark.parametrize("request_", [FAL, TOGETHER, REPLICATE], ids=["fal-ai", "together", "replicate"])
async def test_generate_video_gives_a_probed_file(emu, hf_settings, request_):
    async with make_client(hf_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", {**request_, "seed": 5}))
    assert job["status"] == "succeeded", job
    info = probe(job["output"]["path"])
    assert info.codec == "h264" and info.frames == 24 and info.duration_s == pytest.approx(1.0, abs=0.1)
    assert emu.count("create") == 1 and emu.requests_to("create")[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in str(job)


async def test_estimate_cost_sends_nothing(emu, hf_settings):
    async with make_client(hf_settings) as client:
        fal = await client.call_tool("estimate_cost", {"request": {**FAL, "duration_s": 5, "resolution": "720p"}})
        together = await client.call_tool("estimate_cost", {"request": TOGETHER})
    assert fal.structured_content["quotes"][0]["usd"] == pytest.approx(0.40)  # 0.08/s x 5 s at 720p
    assert together.structured_content["quotes"][0]["usd"] == pytest.approx(0.66)
    assert emu.requests == []


async def test_refusals_before_anything_is_sent(emu, hf_settings):
    async with make_client(hf_settings) as client:
        result = await client.call_tool("generate_video", {"request": {**TOGETHER, "duration_s": 8}})
    assert result.is_error and "duration" in result.content[0].text
    assert emu.requests == []


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [({"status": 401}, "failed", "auth_failed"), ({"status": 429, "retry_after": 90}, "failed", "rate_limited"),
     ({"status": 502}, "unknown", "outcome_unknown"), ({"drop": True, "process": True}, "unknown", "outcome_unknown")],
)
async def test_create_faults_end_in_definite_states(emu, hf_settings, fault, status, code):
    job = await job_after_create_fault(hf_settings, emu, FAL, fault)
    assert job["status"] == status and job["error"]["code"] == code, job


async def test_moderation_failure_is_reported(emu, hf_settings):
    emu.fail_next = ("content_policy_violation", "The prompt was flagged")
    async with make_client(hf_settings) as client:
        job = await settle(client, await start_job(client, "generate_video", FAL))
    assert job["status"] == "failed" and job["error"]["code"] == "moderation", job


@pytest.mark.parametrize("request_", [FAL, REPLICATE], ids=["fal-ai", "replicate"])
async def test_cancel_job_cancels_at_the_provider(emu, hf_settings, request_):
    emu.hold_jobs = True
    async with make_client(hf_settings) as client:
        job_id = await start_job(client, "generate_video", request_)
        with anyio.fail_after(10):
            while emu.count("poll") < 1:
                await anyio.sleep(0.02)
        result = await client.call_tool("cancel_job", {"job_id": job_id})
        job = await settle(client, job_id)
    assert job["status"] == "canceled", (job, result.content[0].text)
    assert emu.count("cancel") == 1 and next(iter(emu.jobs.values())).canceled
