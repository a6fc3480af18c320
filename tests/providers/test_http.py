"""The shared HTTP layer against a real loopback server: retries, the create rule, downloads."""

from __future__ import annotations

import email.utils
import time
from pathlib import Path

import av
import httpx
import pytest
from emulators.base import Emulator, EmulatedJob, Reply

from reelforge.errors import (
    AuthFailed,
    InsufficientCredits,
    InvalidRequest,
    OutcomeUnknown,
    ProviderFailure,
    ProviderTimeout,
    RateLimited,
)
from reelforge.providers.download import fetch_video
from reelforge.providers.http import (
    RetryPolicy,
    OutputUrlExpired,
    parse_retry_after,
    safe_url,
    send,
    status_error_map,
)

ERRORS = status_error_map("Acme")
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=5.0)


@pytest.fixture
def emu(bare_emulator: Emulator) -> Emulator:
    bare_emulator.route("GET", r"/thing", "read", lambda req, m: Reply(200, {"ok": True}))
    bare_emulator.route("POST", r"/create", "create", lambda req, m: Reply(200, {"id": "job-1"}))
    return bare_emulator


@pytest.fixture
async def client():
    async with httpx.AsyncClient(timeout=httpx.Timeout(2.0, connect=1.0)) as c:
        yield c


async def read(client: httpx.AsyncClient, emu: Emulator, **kw) -> httpx.Response:
    return await send(client, "GET", emu.url + "/thing", retry_reads=True, error_map=ERRORS, policy=FAST_RETRY, **kw)


async def create(client: httpx.AsyncClient, emu: Emulator) -> httpx.Response:
    return await send(
        client, "POST", emu.url + "/create", json={"a": 1}, retry_reads=False, error_map=ERRORS, policy=FAST_RETRY
    )


async def test_read_retries_429_honouring_retry_after(client, emu):
    emu.inject("read", status=429, retry_after=0.2, times=2)
    started = time.monotonic()
    response = await read(client, emu)
    assert response.json() == {"ok": True}
    assert emu.count("read") == 3
    assert time.monotonic() - started >= 0.4  # two waits of Retry-After: 0.2 s


async def test_read_retries_5xx_and_retry_after_ms(client, emu):
    emu.inject("read", status=503, retry_after_ms=30)
    emu.inject("read", status=502)
    assert (await read(client, emu)).status_code == 200
    assert emu.count("read") == 3


async def test_read_gives_up_after_capped_attempts(client, emu):
    emu.inject("read", status=500, times=10)
    with pytest.raises(ProviderFailure, match="HTTP 500"):
        await read(client, emu)
    assert emu.count("read") == FAST_RETRY.max_attempts


async def test_retry_after_beyond_cap_is_reported_not_waited(client, emu):
    emu.inject("read", status=429, retry_after=120)
    with pytest.raises(RateLimited) as info:
        await read(client, emu)
    assert info.value.retry_after == pytest.approx(120)
    assert "Retry in about 120 s" in str(info.value)
    assert emu.count("read") == 1


async def test_read_timeout_is_retried(client, emu):
    emu.inject("read", delay_s=0.6)
    response = await read(client, emu, timeout=0.3)
    assert response.status_code == 200
    assert emu.count("read") == 2


@pytest.mark.slow
async def test_read_timeouts_exhausted_raise_provider_timeout(client, emu):
    emu.inject("read", delay_s=0.4, times=10)
    with pytest.raises(ProviderTimeout):
        await read(client, emu, timeout=0.2)


async def test_create_is_never_retried_on_503(client, emu):
    emu.inject("create", status=503, times=3)
    with pytest.raises(ProviderFailure):
        await create(client, emu)
    assert emu.count("create") == 1


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_create_gateway_error_is_outcome_unknown(client, emu, status):
    emu.inject("create", status=status)
    with pytest.raises(OutcomeUnknown, match="Do not submit again"):
        await create(client, emu)
    assert emu.count("create") == 1


async def test_create_lost_reply_is_outcome_unknown(client, emu):
    emu.inject("create", drop=True, process=True)
    with pytest.raises(OutcomeUnknown):
        await create(client, emu)
    assert emu.count("create") == 1


async def test_create_timeout_is_outcome_unknown(client, emu):
    emu.inject("create", delay_s=0.6)
    with pytest.raises(OutcomeUnknown):
        await send(client, "POST", emu.url + "/create", json={}, retry_reads=False, error_map=ERRORS, timeout=0.2)
    assert emu.count("create") == 1


async def test_create_that_cannot_connect_says_nothing_was_submitted(client):
    with Emulator() as gone:
        url = gone.url
    with pytest.raises(ProviderFailure, match="Nothing was submitted"):
        await send(client, "POST", url + "/create", json={}, retry_reads=False, error_map=ERRORS)


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, InvalidRequest), (422, InvalidRequest), (401, AuthFailed), (403, AuthFailed), (402, InsufficientCredits)],
)
async def test_status_classification(client, emu, status, cls):
    emu.inject("create", status=status, body={"error": "Invalid parameter 'promptText'"})
    with pytest.raises(cls) as info:
        await create(client, emu)
    assert "Acme" in str(info.value) and "promptText" in str(info.value)


async def test_fastapi_detail_list_is_readable(client, emu):
    detail = {"detail": [{"loc": ["body", "duration"], "msg": "Input should be '5s' or '9s'"}]}
    emu.inject("create", status=422, body=detail)
    with pytest.raises(InvalidRequest, match="duration: Input should be '5s' or '9s'"):
        await create(client, emu)


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    when = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after({"retry-after": when}, now=1_000_000) == pytest.approx(30)
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_safe_url_drops_the_signature():
    assert safe_url("https://cdn.example.com/a/b.mp4?X-Amz-Signature=abc&t=1") == "https://cdn.example.com/a/b.mp4"


# --- downloads -------------------------------------------------------------------------------------


def finished_job(emu: Emulator, seconds: float = 1.0) -> EmulatedJob:
    job = emu.new_job("video", {}, ["done"], duration_s=seconds)
    return job


def probe(path: Path) -> tuple[str, int, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.name, frames, float(container.duration or 0) / 1e6


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".partial-" in p.name]


async def test_download_writes_a_playable_file(client, bare_emulator, tmp_path):
    url = bare_emulator.output_url(finished_job(bare_emulator))
    dest = tmp_path / "out" / "clip.mp4"
    size = await fetch_video(client, url, dest, max_bytes=10_000_000, policy=FAST_RETRY)
    assert dest.stat().st_size == size > 0
    codec, frames, seconds = probe(dest)
    assert codec == "h264" and frames == 24 and seconds == pytest.approx(1.0, abs=0.1)
    assert leftovers(dest.parent) == []


async def test_download_retries_503_and_survives_a_slow_body(client, bare_emulator, tmp_path):
    url = bare_emulator.output_url(finished_job(bare_emulator))
    bare_emulator.inject("download", status=503, retry_after_ms=20)
    bare_emulator.inject("download", chunk_pause_s=0.002)
    dest = tmp_path / "clip.mp4"
    await fetch_video(client, url, dest, policy=FAST_RETRY)
    assert probe(dest)[1] == 24
    assert bare_emulator.count("download") == 2


async def test_expired_link_is_reported_and_leaves_nothing(client, bare_emulator, tmp_path):
    job = finished_job(bare_emulator)
    url = bare_emulator.output_url(job)
    bare_emulator.expire_outputs()
    dest = tmp_path / "clip.mp4"
    with pytest.raises(OutputUrlExpired, match="no longer works") as info:
        await fetch_video(client, url, dest, policy=FAST_RETRY)
    assert "token" not in str(info.value)  # the signed part never reaches a message
    assert not dest.exists() and leftovers(tmp_path) == []
    # A fresh link (what a re-poll returns) works.
    await fetch_video(client, bare_emulator.output_url(job), dest, policy=FAST_RETRY)
    assert dest.exists()


async def test_download_refuses_non_video_bodies(client, bare_emulator, tmp_path):
    bare_emulator.route("GET", r"/page", "page", lambda req, m: Reply(200, {"error": "not a video"}))
    bare_emulator.route(
        "GET", r"/fake", "fake", lambda req, m: Reply(200, raw=b"hello world" * 10, headers={"Content-Type": "video/mp4"})
    )
    with pytest.raises(ProviderFailure, match="application/json"):
        await fetch_video(client, bare_emulator.url + "/page", tmp_path / "a.mp4", policy=FAST_RETRY)
    with pytest.raises(ProviderFailure, match="not an mp4 or webm"):
        await fetch_video(client, bare_emulator.url + "/fake", tmp_path / "b.mp4", policy=FAST_RETRY)
    assert list(tmp_path.iterdir()) == []


async def test_download_enforces_the_size_limit(client, bare_emulator, tmp_path):
    url = bare_emulator.output_url(finished_job(bare_emulator))
    with pytest.raises(ProviderFailure, match="REELFORGE_DOWNLOAD_MAX_MB"):
        await fetch_video(client, url, tmp_path / "a.mp4", max_bytes=1000, policy=FAST_RETRY)
    assert list(tmp_path.iterdir()) == []


# --- input packaging -------------------------------------------------------------------------------


def test_sniff_mime_reads_the_bytes_not_the_name(tmp_path):
    from media_utils import make_clip, make_image

    from reelforge.providers.input_files import file_mime

    cases = {
        make_image(tmp_path / "a.png"): "image/png",
        make_image(tmp_path / "b.jpg"): "image/jpeg",
        make_image(tmp_path / "c.webp"): "image/webp",
        make_image(tmp_path / "d.gif"): "image/gif",
        make_clip(tmp_path / "e.mp4", seconds=0.5, audio=False): "video/mp4",
        make_clip(tmp_path / "f.webm", seconds=0.5, audio=False): "video/webm",
    }
    for path, mime in cases.items():
        assert file_mime(path) == mime, path.name
    liar = tmp_path / "photo.jpg"
    liar.write_bytes((tmp_path / "a.png").read_bytes())
    assert file_mime(liar) == "image/png"


async def test_inline_inputs_respect_limits_and_kinds(tmp_path):
    import base64

    from media_utils import make_image

    from reelforge.providers.input_files import check_kind, data_uri
    from reelforge.generation_spec import MediaRef

    image = MediaRef(kind="file", path=str(make_image(tmp_path / "a.png")), mime="image/png")
    uri = await data_uri(image, max_bytes=1_000_000, param="first_frame", provider="Acme")
    assert uri.startswith("data:image/png;base64,") and base64.b64decode(uri.split(",", 1)[1])[:4] == b"\x89PNG"
    with pytest.raises(InvalidRequest, match="'first_frame' is .* Acme accepts at most") as info:
        await data_uri(image, max_bytes=10, param="first_frame", provider="Acme")
    assert info.value.param == "first_frame"
    with pytest.raises(InvalidRequest, match="'video' must be a video file; got image/png"):
        check_kind(image, expected="video", param="video")
    missing = MediaRef(kind="file", path=str(tmp_path / "gone.png"))
    with pytest.raises(InvalidRequest, match="missing or empty"):
        check_kind(missing, expected="image", param="first_frame")


async def test_shared_client_is_one_pool_per_loop_and_closable():
    from reelforge.providers.http import USER_AGENT, close_shared_client, shared_client

    first = shared_client()
    assert shared_client() is first and first.headers["user-agent"] == USER_AGENT
    await close_shared_client()
    assert first.is_closed and shared_client() is not first
    await close_shared_client()
