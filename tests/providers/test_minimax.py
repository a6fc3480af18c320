"""The MiniMax adapter against the loopback MiniMax emulator: real HTTP, real mp4s, injected faults."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from provider_utils import require_provider

require_provider("minimax")  # the rest of this module needs its package
from adapter_helpers import file_ref, make_spec, model_entry, poll_to_end
from emulators.minimax import API_KEY, MiniMaxEmulator
from media_utils import make_image

from reelforge.errors import (
    AuthFailed,
    ContentRejected,
    InsufficientCredits,
    InvalidRequest,
    MissingCredentials,
    OutcomeUnknown,
    RateLimited,
    UnsupportedParameter,
)
from reelforge.media.probe import probe
from reelforge.providers.base import RemoteState, RemoteStatus
from reelforge.providers.http import RetryPolicy, new_client
from reelforge.providers.minimax.adapter import MiniMaxProvider
from reelforge.generation_spec import GenerationSpec, MediaRef
from reelforge.settings import Settings

#: Real retry code paths with millisecond waits.
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=5.0)


@pytest.fixture
def emu() -> Iterator[MiniMaxEmulator]:
    with MiniMaxEmulator() as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with new_client(timeout=httpx.Timeout(2.0, connect=1.0)) as client:
        yield client


def make_provider(emu: MiniMaxEmulator, http: httpx.AsyncClient, tmp_path: Path, key: str | None = API_KEY) -> MiniMaxProvider:
    settings = Settings(home=tmp_path).with_provider_env(MINIMAX_API_KEY=key or "", MINIMAX_API_HOST=emu.url)
    return MiniMaxProvider(settings, http, retry=FAST_RETRY)


@pytest.fixture
def provider(emu: MiniMaxEmulator, http: httpx.AsyncClient, tmp_path: Path) -> MiniMaxProvider:
    return make_provider(emu, http, tmp_path)


def model(model_id: str = "hailuo-02"):
    return model_entry("minimax", model_id)


def spec(model_id: str = "hailuo-02", **kw) -> GenerationSpec:
    return make_spec("minimax", model_id, **{"prompt": "a lighthouse at dusk", **kw})


def image_ref(tmp_path: Path) -> MediaRef:
    return file_ref(make_image(tmp_path / "first.png", (320, 180), "teal"))


async def run_to_end(provider: MiniMaxProvider, task_id: str, entry) -> RemoteStatus:
    return (await poll_to_end(provider, task_id, entry))[-1]


async def test_text_to_video_end_to_end(emu, provider, tmp_path):
    entry = model()
    s, notes = provider.normalize(spec(camera_move="pan_left"), entry)
    task_id = await provider.submit(s, entry)

    seen = []
    status = None
    for _ in range(10):
        status = await provider.poll(task_id, entry)
        seen.append(status.raw_status)
        if status.state.terminal:
            break
    assert seen == ["Preparing", "Queueing", "Processing", "Success"]
    assert status.state is RemoteState.SUCCEEDED and status.progress is None  # MiniMax gives none; never invented

    dest = tmp_path / "out" / "clip.mp4"
    await provider.download(status, entry, dest)
    info = probe(dest)
    assert info.codec == "h264" and info.frames == 24 and info.duration_s == pytest.approx(1.0, abs=0.05)

    (create,) = emu.requests_to("create")
    assert create.headers["authorization"] == f"Bearer {API_KEY}"
    assert create.json == {"model": "MiniMax-Hailuo-02", "prompt": "[Pan left] a lighthouse at dusk",
                           "duration": 6, "resolution": "768P"}
    assert notes == ["camera_move pan_left is sent as the prompt command [Pan left]."]
    assert emu.count("retrieve") == 1


async def test_image_to_video_sends_local_file_as_data_uri(emu, provider, tmp_path):
    entry = model("hailuo-2.3-fast")
    s, _ = provider.normalize(spec("hailuo-2.3-fast", prompt="", first_frame=image_ref(tmp_path)), entry)
    task_id = await provider.submit(s, entry)
    status = await run_to_end(provider, task_id, entry)
    await provider.download(status, entry, tmp_path / "i2v.mp4")
    assert probe(tmp_path / "i2v.mp4").frames > 0

    body = emu.requests_to("create")[0].json
    assert body["model"] == "MiniMax-Hailuo-2.3-Fast" and "prompt" not in body
    assert body["first_frame_image"].startswith("data:image/png;base64,iVBOR")


async def test_first_and_last_frame_on_hailuo_02(emu, provider, tmp_path):
    entry = model()
    last = MediaRef(kind="url", url="https://example.com/last.png", mime="image/png")
    s, _ = provider.normalize(spec(first_frame=image_ref(tmp_path), last_frame=last), entry)
    await provider.submit(s, entry)
    body = emu.requests_to("create")[0].json
    assert body["last_frame_image"] == "https://example.com/last.png"  # public URL passed as is


async def test_director_models_send_no_duration_or_resolution(emu, provider):
    entry = model("t2v-01-director")
    s, _ = provider.normalize(spec("t2v-01-director", camera_move="push_in"), entry)
    await provider.submit(s, entry)
    assert emu.requests_to("create")[0].json == {"model": "T2V-01-Director", "prompt": "[Push in] a lighthouse at dusk"}


async def test_missing_key_is_refused_before_any_request(emu, http, tmp_path):
    provider = make_provider(emu, http, tmp_path, key=None)
    with pytest.raises(MissingCredentials) as err:
        await provider.submit(spec(), model())
    assert "MINIMAX_API_KEY" in str(err.value)
    assert emu.requests == []


async def test_wrong_key_names_the_variable_and_the_region_host(emu, http, tmp_path):
    provider = make_provider(emu, http, tmp_path, key="wrong")
    with pytest.raises(AuthFailed) as err:
        await provider.submit(spec(), model())
    assert "MINIMAX_API_KEY" in str(err.value) and "MINIMAX_API_HOST" in str(err.value)
    assert "wrong" not in str(err.value)  # the secret never appears in messages


@pytest.mark.parametrize(
    ("model_id", "changes", "param"),
    [
        ("hailuo-02", {"duration_s": 10, "resolution": "1080p"}, "duration_s"),
        ("hailuo-2.3", {"duration_s": 10, "resolution": "1080p"}, "duration_s"),
        ("hailuo-02", {"resolution": "512p"}, "resolution"),
        ("hailuo-2.3-fast", {}, "image"),
        ("i2v-01-director", {}, "image"),
        ("hailuo-02", {"camera_move": "orbit_left"}, "camera_move"),
        ("hailuo-02", {"extra": {"guidance": 3}}, "options"),
        ("hailuo-02", {"extra": {"prompt_optimizer": "no"}}, "options"),
    ],
)
async def test_normalize_refuses_what_minimax_would_refuse(provider, model_id, changes, param):
    with pytest.raises(UnsupportedParameter) as err:
        provider.normalize(spec(model_id, **changes), model(model_id))
    assert err.value.param == param
    assert "accept" in str(err.value)


async def test_normalize_allows_512p_with_a_first_frame_and_10s_at_768p(provider, tmp_path):
    provider.normalize(spec(resolution="512p", duration_s=10, first_frame=image_ref(tmp_path)), model())
    provider.normalize(spec(duration_s=10), model())


async def test_normalize_refuses_last_frame_at_512p(provider, tmp_path):
    ref = image_ref(tmp_path)
    with pytest.raises(UnsupportedParameter) as err:
        provider.normalize(spec(resolution="512p", first_frame=ref, last_frame=ref), model())
    assert err.value.param == "resolution"


@pytest.mark.parametrize(
    ("code", "error_class"),
    [(1008, InsufficientCredits), (1026, ContentRejected), (1002, RateLimited), (2013, InvalidRequest),
     (1004, AuthFailed), (2049, AuthFailed)],
)
async def test_create_errors_inside_http_200_are_mapped_and_never_retried(emu, provider, code, error_class):
    emu.inject_code("create", code, "emulated refusal")
    with pytest.raises(error_class) as err:
        await provider.submit(spec(), model())
    assert f"MiniMax error {code}: emulated refusal" in str(err.value)
    assert emu.count("create") == 1 and emu.jobs == {}
    if code == 1002:
        assert err.value.retry_after and "Retry in about" in str(err.value)


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault",
    [{"status": 502}, {"malformed": True}, {"drop": True, "process": True}, {"delay_s": 3.0, "process": True}],
    ids=["gateway-502", "malformed-json", "reply-lost", "timeout"],
)
async def test_create_with_unknown_outcome_is_never_replayed(emu, provider, fault):
    if "delay_s" in fault:
        fault = {"delay_s": 3.0}  # the job is created; the answer comes after the client gave up
    emu.inject("create", **fault)
    with pytest.raises(OutcomeUnknown) as err:
        await provider.submit(spec(), model())
    assert "Do not submit again" in str(err.value)
    assert emu.count("create") == 1


async def test_create_rate_limited_over_http_is_not_retried(emu, provider):
    emu.inject("create", status=429, retry_after=7)
    with pytest.raises(RateLimited) as err:
        await provider.submit(spec(), model())
    assert err.value.retry_after == 7 and emu.count("create") == 1


@pytest.mark.slow
async def test_poll_retries_http_429_5xx_timeouts_and_bad_json(emu, provider, tmp_path):
    entry = model()
    task_id = await provider.submit(spec(), entry)
    emu.inject("poll", status=429, retry_after=0.05)
    emu.inject("poll", status=503)
    emu.inject("poll", delay_s=2.5)  # beyond the client's 2 s read timeout
    status = await provider.poll(task_id, entry)
    assert emu.count("poll") == 4
    assert status.raw_status in ("Preparing", "Queueing")
    emu.inject("poll", malformed=True)
    emu.inject_code("poll", 1002, "rate limit exceeded")
    status = await run_to_end(provider, task_id, entry)
    assert status.state is RemoteState.SUCCEEDED
    assert emu.count("create") == 1


async def test_failed_task_reports_moderation(emu, provider):
    emu.fail_next = ("1027", "output video sensitive")
    entry = model()
    status = await run_to_end(provider, await provider.submit(spec(), entry), entry)
    assert status.state is RemoteState.FAILED and status.raw_status == "Fail"
    assert isinstance(status.error, ContentRejected) and "Rephrase" in str(status.error)


async def test_poll_with_a_definite_error_is_not_retried(emu, provider):
    entry = model()
    task_id = await provider.submit(spec(), entry)
    emu.inject_code("poll", 1004, "token expired")
    with pytest.raises(AuthFailed):
        await provider.poll(task_id, entry)
    assert emu.count("poll") == 1


async def test_cancel_sends_nothing_because_minimax_has_no_cancel(emu, provider):
    entry = model()
    task_id = await provider.submit(spec(), entry)
    await provider.cancel(task_id, entry)
    assert [r.route for r in emu.requests] == ["create"]


async def test_prompt_with_camera_command_must_fit_minimax_limit(provider):
    with pytest.raises(InvalidRequest) as err:
        provider.normalize(spec(prompt="x" * 1995, camera_move="tracking_shot"), model())
    assert err.value.param == "prompt" and "2000" in str(err.value)


async def test_gateway_http_errors_use_the_status_when_the_code_is_generic(emu, provider):
    emu.inject("poll", status=401)
    with pytest.raises(AuthFailed):
        await provider.poll("106916112212032", model())


async def test_failed_task_without_a_reason_still_ends_actionable(emu, provider):
    emu.fail_next = ("0", "")  # Fail with base_resp 0: the shape the official MiniMax-MCP client handles
    entry = model()
    status = await run_to_end(provider, await provider.submit(spec(), entry), entry)
    assert status.state is RemoteState.FAILED and status.error is not None
    assert status.error.code == "provider_failed" and "Try again" in str(status.error)
