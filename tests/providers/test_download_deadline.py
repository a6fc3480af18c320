"""Downloads end in bounded time: a total deadline and a minimum rate, then `download_failed`.

A real loopback server sends a valid mp4 header and then one byte per pause (a slow-loris link);
httpx's read timeout never fires on it, so only our own limits can end the download. The job must
end `download_failed` in about the configured time, keep its remote id, and a retry of the same
call (same idempotency key) must fetch the video again without a second create request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import anyio
import pytest
from provider_utils import require_provider
from adapter_helpers import settle, start_job
from emulators.base import Emulator
from emulators.runway import RunwayEmulator

from reelforge.jobs.store import JobStore
from reelforge.media.probe import probe
from reelforge.providers.download import DownloadFailed, DownloadLimits, download_limits, fetch_video
from reelforge.settings import Settings
from client_utils import make_client

GEN45 = {"provider": "runway", "model": "gen4.5", "prompt": "a kite over the dunes", "duration_s": 2,
         "idempotency_key": "kite-1"}  # fmt: skip


def finished_output(emu: Emulator) -> str:
    job = emu.new_job("t2v", {}, ["done"])
    return emu.output_url(job)


def leftovers(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if ".partial-" in p.name]


@pytest.mark.slow
async def test_slow_loris_ends_at_the_total_deadline(bare_emulator, http_client, fast_retry, tmp_path):
    url = finished_output(bare_emulator)
    bare_emulator.inject("download", trickle_s=0.2, times=100)
    limits = DownloadLimits(deadline_s=1.0, min_rate_bps=None)
    started = time.monotonic()
    with anyio.fail_after(15), pytest.raises(DownloadFailed, match="did not finish within 1 s") as info:
        await fetch_video(http_client, url, tmp_path / "clip.mp4", limits=limits, policy=fast_retry)
    elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 4, elapsed  # the deadline, plus cleanup on a busy machine
    assert info.value.code == "download_failed" and "token" not in str(info.value)
    assert leftovers(tmp_path) == [] and not (tmp_path / "clip.mp4").exists()


@pytest.mark.slow
async def test_a_link_below_the_minimum_rate_is_abandoned(bare_emulator, http_client, fast_retry, tmp_path):
    url = finished_output(bare_emulator)
    bare_emulator.inject("download", trickle_s=0.05, times=100)
    limits = DownloadLimits(deadline_s=60, min_rate_bps=20_000, rate_window_s=0.5)
    started = time.monotonic()
    with anyio.fail_after(15), pytest.raises(DownloadFailed, match="slower than 20 kB/s"):
        await fetch_video(http_client, url, tmp_path / "clip.mp4", limits=limits, policy=fast_retry)
    # Every attempt (4 with this policy) gives up after one rate window, far before the deadline.
    assert time.monotonic() - started < 8
    assert bare_emulator.count("download") == fast_retry.max_attempts


async def test_a_healthy_download_passes_the_same_limits(bare_emulator, http_client, fast_retry, tmp_path):
    url = finished_output(bare_emulator)
    bare_emulator.inject("download", chunk_pause_s=0.002)
    limits = DownloadLimits(deadline_s=10, min_rate_bps=20_000, rate_window_s=0.5)
    dest = tmp_path / "clip.mp4"
    await fetch_video(http_client, url, dest, limits=limits, policy=fast_retry)
    assert probe(dest).frames == 24


def test_default_deadline_scales_with_the_size_limit(tmp_path):
    small = download_limits(Settings(home=tmp_path, download_max_mb=10))
    large = download_limits(Settings(home=tmp_path, download_max_mb=1000))
    assert small.deadline_s is not None and large.deadline_s is not None
    assert large.deadline_s > small.deadline_s and large.max_bytes == 1000 << 20
    assert download_limits(Settings(home=tmp_path, download_deadline_s=7)).deadline_s == 7
    assert download_limits(Settings(home=tmp_path, download_min_rate_kbps=50)).min_rate_bps == 50_000


# --- end to end through the MCP server -------------------------------------------------------------


@pytest.fixture
def emu() -> Iterator[RunwayEmulator]:
    require_provider("runway")
    with RunwayEmulator() as emulator:
        yield emulator


@pytest.mark.slow
async def test_slow_loris_job_ends_download_failed_and_a_retry_does_not_pay_again(emu, settings):
    configured = settings.with_provider_env(RUNWAYML_API_SECRET=emu.api_key, RUNWAYML_BASE_URL=emu.url).model_copy(
        update={"download_deadline_s": 1.5})
    emu.inject("download", trickle_s=0.25, times=100)
    async with make_client(configured) as client:
        started = time.monotonic()
        with anyio.fail_after(20):
            job_id = await start_job(client, "generate_video", GEN45)
            failed = await settle(client, job_id)
        elapsed = time.monotonic() - started
        assert failed["status"] == "failed" and failed["error"]["code"] == "download_failed", failed
        assert elapsed < 10, elapsed  # the deadline (1.5 s) plus polling; the trickle alone would take hours
        assert "idempotency_key" in failed["error"]["message"]
        row = JobStore(configured.ledger).require(job_id)
        assert row.remote_id == next(iter(emu.jobs)) and emu.count("create") == 1

        emu.clear_faults()
        with anyio.fail_after(20):
            again = await start_job(client, "generate_video", GEN45)
            done = await settle(client, again)
    assert again == job_id
    assert done["status"] == "succeeded", done
    assert probe(done["output"]["path"]).frames == 48
    assert emu.count("create") == 1  # the retry fetched the paid video; nothing was created twice
    assert not leftovers(configured.outputs / job_id)
