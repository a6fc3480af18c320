"""The Kling adapter against the loopback Kling emulator: JWT auth, wire format, inputs, faults, errors."""

from __future__ import annotations

import base64
import time

import httpx
import pytest
from provider_utils import require_provider

require_provider("kling")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, file_ref, make_spec, model_entry, poll_to_end, probe, run_remote
from emulators.kling import ACCESS_KEY, SECRET_KEY, KlingEmulator
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
from reelforge.providers.kling.adapter import KlingProvider
from reelforge.providers.kling.auth import jwt_token


@pytest.fixture
def emu():
    with KlingEmulator() as emulator:
        yield emulator


def _provider(emu, tmp_path, **env):
    values = {"KLING_ACCESS_KEY": ACCESS_KEY, "KLING_SECRET_KEY": SECRET_KEY, "KLING_BASE_URL": emu.url, **env}
    return KlingProvider(adapter_settings(tmp_path, **values))


@pytest.fixture
def kling(emu, tmp_path, settings):
    return _provider(emu, tmp_path)


def _image(tmp_path, name="first.png", size=(640, 360), color="blue"):
    return file_ref(make_image(tmp_path / name, size, color), "image/jpeg" if name.endswith(".jpg") else "image/png")


async def test_text_to_video_end_to_end(kling, emu, tmp_path):
    spec = make_spec("kling", "kling-v2-5-turbo", negative_prompt="blur", aspect_ratio="9:16")
    remote_id, seen = await run_remote(kling, spec, tmp_path / "out.mp4")

    assert emu.count("create") == 1
    create = emu.requests_to("create")[0]
    assert create.path == "/v1/videos/text2video"
    assert create.json == {"model_name": "kling-v2-5-turbo", "prompt": spec.prompt, "negative_prompt": "blur",
                           "mode": "std", "aspect_ratio": "9:16", "duration": "5"}
    task_id = next(iter(emu.jobs))
    assert remote_id == f"text2video:{task_id}"
    assert {r.path for r in emu.requests_to("poll")} == {f"/v1/videos/text2video/{task_id}"}
    assert [s.raw_status for s in seen] == ["submitted", "processing", "processing", "succeed"]
    assert all(s.progress is None for s in seen)  # Kling reports none; never invented
    assert len(emu.token_iats) == emu.count("create") + emu.count("poll")  # every request carried a valid JWT
    info = probe(tmp_path / "out.mp4")
    assert info["codec"] == "h264" and info["frames"] == 120 and info["seconds"] == pytest.approx(5, abs=0.1)


async def test_image_to_video_with_end_frame_goes_inline_as_raw_base64(kling, emu, tmp_path):
    first, last = _image(tmp_path), _image(tmp_path, "last.jpg", color="green")
    spec = make_spec("kling", "kling-v1-6", first_frame=first, last_frame=last, resolution="1080p", duration_s=10)
    _, notes = kling.normalize(spec, model_entry("kling", "kling-v1-6"))
    assert "aspect ratio" in notes[0]
    remote_id, seen = await run_remote(kling, spec, tmp_path / "out.mp4")
    body = emu.requests_to("create")[0].json
    assert emu.requests_to("create")[0].path == "/v1/videos/image2video" and remote_id.startswith("image2video:")
    assert body["mode"] == "pro" and body["duration"] == "10" and "aspect_ratio" not in body
    assert base64.b64decode(body["image"]) == (tmp_path / "first.png").read_bytes()  # no data: prefix
    assert base64.b64decode(body["image_tail"])[:2] == b"\xff\xd8"
    assert emu.requests_to("poll")[0].path.startswith("/v1/videos/image2video/")
    assert seen[-1].state is RemoteState.SUCCEEDED and probe(tmp_path / "out.mp4")["frames"] == 240


async def test_public_image_url_is_passed_as_given(kling, emu, tmp_path):
    url = "https://images.example.com/frame.png"
    spec = make_spec("kling", "kling-v2-1", first_frame=MediaRef(kind="url", url=url, mime="image/png"))
    await run_remote(kling, spec, tmp_path / "out.mp4")
    assert emu.requests_to("create")[0].json["image"] == url


@pytest.mark.parametrize(("move", "expected"), [
    ("pan_left", {"type": "simple", "config": {"horizontal": 0, "vertical": 0, "pan": 0, "tilt": -5, "roll": 0, "zoom": 0}}),
    ("forward_up", {"type": "forward_up"}),
])
async def test_camera_moves_become_camera_control(kling, emu, tmp_path, move, expected):
    spec = make_spec("kling", "kling-v1", camera_move=move)
    kling.normalize(spec, model_entry("kling", "kling-v1"))
    await run_remote(kling, spec, tmp_path / "out.mp4")
    assert emu.requests_to("create")[0].json["camera_control"] == expected


async def test_sound_is_always_explicit_on_models_that_have_it(kling, emu, tmp_path):
    model = model_entry("kling", "kling-v2-6")
    loud = make_spec("kling", "kling-v2-6", resolution="1080p", audio=True)
    kling.normalize(loud, model)
    await kling.submit(loud, model)
    await kling.submit(make_spec("kling", "kling-v2-6"), model)
    assert [c.json["sound"] for c in emu.requests_to("create")] == ["on", "off"]


# --- refusals before anything is sent ------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields", "param"),
    [
        ("kling-v1", {"last_frame": "x", "duration_s": 10}, "last_image"),  # end frame: 5 s only
        ("kling-v2-5-turbo", {"last_frame": "x"}, "last_image"),  # end frame: pro (1080p) only
        ("kling-v2-master", {"last_frame": "x"}, "last_image"),
        ("kling-v1-6", {"last_frame": "x", "first_frame": None, "resolution": "1080p"}, "image"),
        ("kling-v1", {"camera_move": "zoom_in", "resolution": "1080p"}, "camera_move"),  # std only
        ("kling-v1", {"camera_move": "zoom_in", "first_frame": "x"}, "camera_move"),  # text only
        ("kling-v2-6", {"audio": True}, "audio"),  # sound: pro only
        ("kling-v2-6", {"audio": True, "resolution": "1080p", "last_frame": "x"}, "audio"),
        ("kling-v2-1-master", {"continue_remote_id": "text2video:1"}, "continue_remote_id"),
        ("kling-v1", {"continue_remote_id": "text2video:1", "continue_direction": "backward"}, "direction"),
        ("kling-v2-6", {"extra": {"cfg_scale": 0.5}}, "options"),
    ],
)
def test_normalize_refuses_model_specific_combinations(kling, tmp_path, model, fields, param):
    for name in ("first_frame", "last_frame"):
        if fields.get(name) == "x":
            fields[name] = _image(tmp_path, f"{name}.png")
    if "last_frame" in fields and "first_frame" not in fields:
        fields["first_frame"] = _image(tmp_path)
    with pytest.raises(UnsupportedParameter) as info:
        kling.normalize(make_spec("kling", model, **fields), model_entry("kling", model))
    assert info.value.param == param


@pytest.mark.parametrize(("size", "name"), [((200, 200), "small.png"), ((1000, 300), "wide.png"), ((640, 360), "a.webp")])
async def test_images_kling_would_refuse_are_refused_here_first(kling, emu, tmp_path, size, name):
    ref = file_ref(make_image(tmp_path / name, size), "image/png")
    spec = make_spec("kling", "kling-v2-1", first_frame=ref)
    with pytest.raises(InvalidRequest) as info:
        kling.normalize(spec, model_entry("kling", "kling-v2-1"))
    assert info.value.param == "image"
    with pytest.raises(InvalidRequest):  # and at submit, for a frame extracted after normalize
        await kling.submit(spec, model_entry("kling", "kling-v2-1"))
    assert emu.requests == []


async def test_missing_secret_names_it_and_sends_nothing(emu, tmp_path, settings):
    provider = _provider(emu, tmp_path, KLING_SECRET_KEY="")
    with pytest.raises(MissingCredentials, match="KLING_SECRET_KEY") as info:
        await provider.submit(make_spec("kling", "kling-v1"), model_entry("kling", "kling-v1"))
    assert "KLING_ACCESS_KEY" not in str(info.value)
    assert emu.requests == []


async def test_wrong_secret_is_auth_failed_and_leaks_nothing(emu, tmp_path, settings):
    provider = _provider(emu, tmp_path, KLING_SECRET_KEY="not-the-secret-123456")
    with pytest.raises(AuthFailed, match="1000") as info:
        await provider.submit(make_spec("kling", "kling-v1"), model_entry("kling", "kling-v1"))
    assert "KLING_SECRET_KEY" in str(info.value)
    token = emu.requests[0].headers["authorization"].split()[1]
    for secret in ("not-the-secret-123456", ACCESS_KEY, token):
        assert secret not in str(info.value)


def test_emulator_verifies_the_jwt(emu):
    url = f"{emu.url}/v1/videos/text2video/123"
    now = time.time()
    good = jwt_token(ACCESS_KEY, SECRET_KEY)
    cases = {
        None: 1001,
        "Token abc": 1002,
        f"Bearer {good[:-3]}AAA": 1000,  # signature tampered
        f"Bearer {jwt_token('ak-other', SECRET_KEY)}": 1000,
        f"Bearer {jwt_token(ACCESS_KEY, SECRET_KEY, now=now + 600)}": 1003,  # nbf in the future
        f"Bearer {jwt_token(ACCESS_KEY, SECRET_KEY, now=now - 4000)}": 1004,  # expired
    }
    for header, code in cases.items():
        answer = httpx.get(url, headers={"Authorization": header} if header else {})
        assert (answer.status_code, answer.json()["code"]) == (401, code), header
    assert httpx.get(url, headers={"Authorization": f"Bearer {good}"}).json()["code"] == 1203  # authenticated


async def test_expired_token_code_says_to_check_the_clock(kling, emu):
    emu.inject("create", status=401, body={"code": 1004, "message": "Authorization has expired", "request_id": "r"})
    with pytest.raises(AuthFailed, match="clock"):
        await kling.submit(make_spec("kling", "kling-v1"), model_entry("kling", "kling-v1"))


async def test_provider_validation_error_names_our_parameter(kling, emu):
    spec = make_spec("kling", "kling-v1", aspect_ratio="4:3")  # normalize skipped on purpose
    with pytest.raises(InvalidRequest, match="1201") as info:
        await kling.submit(spec, model_entry("kling", "kling-v1"))
    assert info.value.param == "aspect_ratio"


@pytest.mark.parametrize(("setup", "cls"), [
    (lambda emu: setattr(emu, "units", 0.5), InsufficientCredits),  # 1102 on HTTP 429: not a rate limit
    (lambda emu: setattr(emu, "max_concurrency", 0), RateLimited),  # 1303
])
async def test_account_codes_on_create(kling, emu, setup, cls):
    setup(emu)
    with pytest.raises(cls):
        await kling.submit(make_spec("kling", "kling-v1"), model_entry("kling", "kling-v1"))
    assert emu.count("create") == 1 and emu.jobs == {}


async def test_moderated_prompt_is_content_rejected(kling, emu):
    with pytest.raises(ContentRejected, match="1301"):
        await kling.submit(make_spec("kling", "kling-v1", prompt="a forbidden scene"), model_entry("kling", "kling-v1"))


async def test_rate_limited_create_is_not_retried(kling, emu):
    emu.inject("create", status=429, retry_after=30)
    with pytest.raises(RateLimited) as info:
        await kling.submit(make_spec("kling", "kling-v1"), model_entry("kling", "kling-v1"))
    assert info.value.retry_after == 30 and emu.count("create") == 1


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 504}, {"drop": True, "process": True},
                                   {"malformed": True}, {"status": 200, "body": {"code": 0, "data": {}}}])
async def test_lost_create_answers_are_outcome_unknown(kling, emu, fault):
    emu.inject("create", **fault)
    with pytest.raises(OutcomeUnknown, match="Do not submit again"):
        await kling.submit(make_spec("kling", "kling-v1"), model_entry("kling", "kling-v1"))
    assert emu.count("create") == 1


async def test_an_echoing_error_page_leaks_no_credential(kling, emu):
    emu.inject("create", echo_status=400)
    with pytest.raises(InvalidRequest) as info:
        await kling.submit(make_spec("kling", "kling-v1"), model_entry("kling", "kling-v1"))
    token = emu.requests[0].headers["authorization"].split()[1]
    assert token not in str(info.value) and ACCESS_KEY not in str(info.value) and "[redacted]" in str(info.value)


# --- status reads, failures, cancel, downloads, native extend -------------------------------------


async def test_status_reads_ride_out_429_5xx_and_garbage(kling, emu):
    model = model_entry("kling", "kling-v1")
    remote_id = await kling.submit(make_spec("kling", "kling-v1"), model)
    emu.inject("poll", status=429, retry_after_ms=20, times=2)
    emu.inject("poll", status=503)
    emu.inject("poll", malformed=True)
    seen = await poll_to_end(kling, remote_id, model)
    assert seen[-1].state is RemoteState.SUCCEEDED and emu.count("poll") == len(seen) + 4


@pytest.mark.parametrize(("message", "cls"), [
    ("Failure to pass the risk control system", ContentRejected), ("internal render error", ProviderFailure)])
async def test_failed_tasks_map_to_actionable_errors(kling, emu, message, cls):
    emu.fail_next = ("failed", message)
    model = model_entry("kling", "kling-v1")
    seen = await poll_to_end(kling, await kling.submit(make_spec("kling", "kling-v1"), model), model)
    assert seen[-1].state is RemoteState.FAILED and isinstance(seen[-1].error, cls) and message in str(seen[-1].error)


async def test_a_code_inside_a_200_poll_is_mapped(kling, emu):
    model = model_entry("kling", "kling-v1")
    remote_id = await kling.submit(make_spec("kling", "kling-v1"), model)
    emu.inject("poll", status=200, body={"code": 1203, "message": "task not found", "request_id": "r"})
    with pytest.raises(InvalidRequest, match="1203"):
        await kling.poll(remote_id, model)


async def test_cancel_sends_nothing_and_the_task_runs_on(kling, emu):
    model = model_entry("kling", "kling-v1")
    remote_id = await kling.submit(make_spec("kling", "kling-v1"), model)
    before = len(emu.requests)
    await kling.cancel(remote_id, model)
    assert len(emu.requests) == before  # Kling has no cancel endpoint
    assert (await poll_to_end(kling, remote_id, model))[-1].state is RemoteState.SUCCEEDED


async def test_expired_output_link_is_refreshed_by_reading_the_task_again(kling, emu, tmp_path):
    model = model_entry("kling", "kling-v1")
    final = (await poll_to_end(kling, await kling.submit(make_spec("kling", "kling-v1"), model), model))[-1]
    emu.expire_outputs()
    polls = emu.count("poll")
    await kling.download(final, model, tmp_path / "out.mp4")
    assert emu.count("poll") == polls + 1 and emu.count("download") == 2


async def test_native_extend_sends_the_source_video_id(kling, emu, tmp_path):
    model = model_entry("kling", "kling-v1")
    source, _ = await run_remote(kling, make_spec("kling", "kling-v1"), tmp_path / "a.mp4")
    spec = make_spec("kling", "kling-v1", prompt="the kite climbs", continue_remote_id=source)
    kling.normalize(spec, model)
    remote_id, seen = await run_remote(kling, spec, tmp_path / "b.mp4")
    create = emu.requests_to("create")[-1]
    assert create.path == "/v1/videos/video-extend" and remote_id.startswith("video-extend:")
    assert create.json == {"video_id": f"v-{source.split(':')[1]}", "prompt": "the kite climbs"}
    assert seen[-1].state is RemoteState.SUCCEEDED and probe(tmp_path / "b.mp4")["codec"] == "h264"


async def test_an_unknown_task_status_reads_as_running(kling, emu):
    model = model_entry("kling", "kling-v1")
    remote_id = await kling.submit(make_spec("kling", "kling-v1"), model)
    emu.inject("poll", status=200, body={"code": 0, "data": {"task_id": "x", "task_status": "queueing"}})
    status = await kling.poll(remote_id, model)
    assert status.state is RemoteState.RUNNING and status.raw_status == "queueing"


def test_quotes_follow_mode_duration_and_sound():
    from reelforge.studio.pricing import quote

    def usd(model, **fields):
        return quote(make_spec("kling", model, **fields), model_entry("kling", model)).usd

    assert usd("kling-v1-6") == pytest.approx(0.28) and usd("kling-v1-6", resolution="1080p", duration_s=10) == pytest.approx(0.98)
    assert usd("kling-v2-6", resolution="1080p", audio=True) == pytest.approx(0.70)
    assert usd("kling-v2-master", duration_s=10) == pytest.approx(2.80)
    assert model_entry("kling", "kling-v2-5-turbo").price.estimate
