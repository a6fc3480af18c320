"""The fal adapter against the loopback fal emulator: queue protocol, schemas as data, uploads, faults."""

from __future__ import annotations

import pytest
from provider_utils import require_provider

require_provider("fal")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, file_ref, make_spec, model_entry, poll_to_end, probe, run_remote
from emulators.fal import FalEmulator
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
from reelforge.providers.fal.adapter import FalProvider, _as_url
from reelforge.providers.fal.facts import app_root

URL = MediaRef(kind="url", url="https://images.example.com/frame.png", mime="image/png")


@pytest.fixture
def emu():
    with FalEmulator() as emulator:
        yield emulator


@pytest.fixture
def fal(emu, tmp_path, settings, fast_retry):
    env = {"FAL_KEY": emu.api_key, "FAL_QUEUE_RUN_HOST": emu.url, "FAL_REST_URL": emu.url}
    # Reference URLs are vetted like any input URL; no DNS in tests (example.com hosts stay offline).
    offline = adapter_settings(tmp_path, **env).model_copy(update={"allow_private_urls": True})
    return FalProvider(offline, retry=fast_retry)


async def submit(fal, model: str, **fields):
    spec = make_spec("fal", model, **fields)
    entry = model_entry("fal", model)
    spec, _ = fal.normalize(spec, entry)
    return await fal.submit(spec, entry), entry


async def test_text_to_video_end_to_end(fal, emu, tmp_path):
    spec = make_spec("fal", "kling-v3-pro", duration_s=7, negative_prompt="blur", aspect_ratio="9:16")
    remote_id, seen = await run_remote(fal, spec, tmp_path / "out.mp4")
    create = emu.requests_to("create")[0]
    assert create.path == "/fal-ai/kling-video/v3/pro/text-to-video"
    assert create.headers["authorization"] == f"Key {emu.api_key}"
    assert create.json == {"prompt": spec.prompt, "negative_prompt": "blur", "aspect_ratio": "9:16", "duration": "7",
                           "generate_audio": False}
    # Status and result live under the app root only, never under the endpoint's sub-path.
    assert {r.path for r in emu.requests_to("poll")} == {f"/fal-ai/kling-video/requests/{remote_id}/status"}
    assert all(r.query["logs"] == ["1"] for r in emu.requests_to("poll"))
    assert [s.raw_status for s in seen] == ["IN_QUEUE", "IN_PROGRESS", "IN_PROGRESS", "COMPLETED"]
    assert seen[0].state is RemoteState.QUEUED and all(s.progress is None for s in seen[:-1])  # fal gives no %
    assert emu.count("result") == 1
    info = probe(tmp_path / "out.mp4")
    assert info["codec"] == "h264" and info["frames"] == 24


async def test_local_first_frame_goes_through_fal_storage(fal, emu, tmp_path):
    image = make_image(tmp_path / "first.png", (320, 180), "blue")
    await run_remote(fal, make_spec("fal", "wan-2.6", first_frame=file_ref(image)), tmp_path / "out.mp4")
    (initiate,) = emu.requests_to("upload")
    assert initiate.query["storage_type"] == ["gcs"]
    assert initiate.json == {"file_name": "first.png", "content_type": "image/png"}
    (put,) = emu.requests_to("upload_target")
    assert "authorization" not in put.headers and put.headers["content-type"] == "image/png"
    body = emu.requests_to("create")[0].json
    assert emu.requests_to("create")[0].path == "/wan/v2.6/image-to-video"
    assert emu.uploads[body["image_url"]] == image.read_bytes()
    assert "aspect_ratio" not in body  # the i2v endpoint takes the image's shape


async def test_first_and_last_frames_use_each_apps_own_field_names(fal, emu, tmp_path):
    first, last = make_image(tmp_path / "a.png", color="red"), make_image(tmp_path / "b.png", color="green")
    await submit(fal, "veo3.1-fast", first_frame=file_ref(first), last_frame=file_ref(last), audio=True, duration_s=4)
    await submit(fal, "kling-v2.1-pro", first_frame=URL, last_frame=URL, duration_s=10)
    veo, kling = (c.json for c in emu.requests_to("create"))
    assert emu.requests_to("create")[0].path == "/fal-ai/veo3.1/fast/first-last-frame-to-video"
    assert set(veo) >= {"first_frame_url", "last_frame_url"} and veo["duration"] == "4s" and veo["generate_audio"] is True
    assert kling == {"prompt": "a red kite over a beach", "image_url": URL.url, "tail_image_url": URL.url, "duration": "10"}


async def test_wire_spellings_come_from_the_row(fal, emu, tmp_path):
    await submit(fal, "hailuo-02-standard", first_frame=URL, resolution="512p", duration_s=10)
    await submit(fal, "ltx-2-fast", resolution="4k", duration_s=8)
    await submit(fal, "pika-2.2", resolution="1080p", seed=3)
    hailuo, ltx, pika = (c.json for c in emu.requests_to("create"))
    assert hailuo["resolution"] == "512P" and hailuo["duration"] == "10"
    assert ltx["resolution"] == "2160p" and ltx["duration"] == 8
    assert pika["duration"] == 5 and pika["seed"] == 3 and pika["resolution"] == "1080p"


@pytest.mark.parametrize(("model", "first", "path", "field", "shape"), [
    ("seedance-2.0", False, "/bytedance/seedance-2.0/reference-to-video", "image_urls", str),
    ("pika-2.2", False, "/fal-ai/pika/v2.2/pikascenes", "images", dict),
    ("kling-v3-pro", True, "/fal-ai/kling-video/v3/pro/image-to-video", "elements", dict),
])
async def test_reference_images_from_options(fal, emu, tmp_path, model, first, path, field, shape):
    local = make_image(tmp_path / "hero.png", color="orange")
    refs = [str(local), "https://images.example.com/villain.png"]
    await submit(fal, model, extra={"references": refs}, first_frame=URL if first else None)
    create = emu.requests_to("create")[0]
    assert create.path == path and len(create.json[field]) == 2
    items = create.json[field]
    assert all(isinstance(i, shape) for i in items)
    urls = items if shape is str else [next(iter(i.values())) for i in items]
    assert emu.uploads[urls[0]] == local.read_bytes() and urls[1] == refs[1]


# --- refusals before anything is sent ------------------------------------------------------------


@pytest.mark.parametrize(("model", "fields", "param"), [
    ("kling-v2.1-pro", {}, "image"),  # image-to-video only
    ("wan-2.6", {"last_frame": URL, "first_frame": URL}, "last_image"),
    ("hailuo-02-standard", {"resolution": "512p"}, "resolution"),  # text-to-video is 768p only
    ("kling-v2.5-turbo-pro", {"extra": {"references": ["https://a.example.com/x.png"]}}, "options"),
    ("kling-v3-pro", {"extra": {"references": ["https://a.example.com/x.png"]}}, "image"),  # elements need a frame
    ("veo3.1-fast", {"extra": {"bogus": 1}}, "options"),
    ("veo3.1-fast", {"camera_move": "pan_left"}, "camera_move"),
    ("veo3.1-fast", {"continue_remote_id": "abc"}, "continue_remote_id"),
])
def test_normalize_refuses_what_the_endpoint_cannot_take(fal, model, fields, param):
    with pytest.raises(UnsupportedParameter) as info:
        fal.normalize(make_spec("fal", model, **fields), model_entry("fal", model))
    assert info.value.param == param


def test_references_outside_the_allowed_folders_are_refused(fal, tmp_path):
    spec = make_spec("fal", "seedance-2.0", extra={"references": ["/etc/passwd"]})
    with pytest.raises(InvalidRequest):
        fal.normalize(spec, model_entry("fal", "seedance-2.0"))
    too_many = make_spec("fal", "seedance-2.0", extra={"references": ["https://a.example.com/x.png"] * 10})
    with pytest.raises(InvalidRequest, match="1 to 9"):
        fal.normalize(too_many, model_entry("fal", "seedance-2.0"))


def test_image_endpoints_note_that_the_image_sets_the_aspect(fal):
    model = model_entry("fal", "kling-v2.5-turbo-pro")
    _, notes = fal.normalize(make_spec("fal", model.id, first_frame=URL), model)
    assert any("aspect ratio follows the input image" in n for n in notes)


async def test_missing_key_names_the_variable_and_sends_nothing(emu, tmp_path, settings):
    fal = FalProvider(adapter_settings(tmp_path, FAL_QUEUE_RUN_HOST=emu.url, FAL_REST_URL=emu.url))
    with pytest.raises(MissingCredentials, match="FAL_KEY"):
        await fal.submit(make_spec("fal", "veo3.1-fast"), model_entry("fal", "veo3.1-fast"))
    assert emu.requests == []


async def test_wrong_key_is_auth_failed_and_never_shown(emu, tmp_path, settings):
    fal = FalProvider(adapter_settings(tmp_path, FAL_KEY="wrong:secret-value", FAL_QUEUE_RUN_HOST=emu.url))
    with pytest.raises(AuthFailed, match="FAL_KEY") as info:
        await fal.submit(make_spec("fal", "veo3.1-fast"), model_entry("fal", "veo3.1-fast"))
    assert "secret-value" not in str(info.value)


async def test_an_error_page_echoing_the_key_is_redacted(fal, emu):
    emu.inject("create", echo_status=400)
    with pytest.raises(InvalidRequest) as info:
        await submit(fal, "veo3.1-fast")
    assert emu.api_key not in str(info.value) and "fal-key-secret" not in str(info.value)


async def test_the_apps_validation_error_names_our_parameter(fal, emu):
    spec = make_spec("fal", "veo3.1-fast", duration_s=5)  # skip normalize and the catalog on purpose
    with pytest.raises(InvalidRequest, match="duration") as info:
        await fal.submit(spec, model_entry("fal", "veo3.1-fast"))
    assert info.value.param == "duration_s" and emu.count("create") == 1


async def test_exhausted_balance_is_insufficient_credits(fal, emu):
    emu.inject("create", status=403, body={"detail": "User is locked. Reason: Exhausted balance."})
    with pytest.raises(InsufficientCredits, match="balance"):
        await submit(fal, "veo3.1-fast")


async def test_rate_limited_submit_is_not_retried(fal, emu):
    emu.inject("create", status=429, retry_after=30)
    with pytest.raises(RateLimited) as info:
        await submit(fal, "veo3.1-fast")
    assert info.value.retry_after == 30 and emu.count("create") == 1


@pytest.mark.parametrize("fault", [{"status": 502}, {"status": 500}, {"drop": True, "process": True}, {"malformed": True},
                                   {"status": 200, "body": {"status": "IN_QUEUE"}}])
async def test_lost_submit_answers_are_outcome_unknown_and_never_resent(fal, emu, fault):
    emu.inject("create", **fault)
    with pytest.raises(OutcomeUnknown, match="Do not submit again"):
        await submit(fal, "veo3.1-fast")
    assert emu.count("create") == 1


async def test_upload_failures_stop_before_the_submit(fal, emu, tmp_path):
    emu.inject("upload_target", status=403, times=10)
    with pytest.raises(AuthFailed):
        await submit(fal, "wan-2.6", first_frame=file_ref(make_image(tmp_path / "a.png")))
    assert emu.count("create") == 0


# --- status reads, failures, cancel, downloads ---------------------------------------------------


async def test_status_reads_ride_out_429_5xx_and_garbage(fal, emu):
    remote_id, entry = await submit(fal, "veo3.1-fast")
    emu.inject("poll", status=429, retry_after_ms=20)
    emu.inject("poll", status=503)
    emu.inject("poll", malformed=True)
    emu.inject("result", status=502)
    seen = await poll_to_end(fal, remote_id, entry)
    assert seen[-1].state is RemoteState.SUCCEEDED and emu.count("poll") == len(seen) + 3
    assert emu.count("create") == 1


@pytest.mark.parametrize(("failure", "cls", "code"), [
    (("content_policy_violation", "The content was flagged by a content checker."), ContentRejected, "moderation"),
    (("runner_disconnected", "Runner disconnected"), ProviderFailure, "provider_failed"),
])
async def test_failed_requests_map_to_actionable_errors(fal, emu, failure, cls, code):
    emu.fail_next = failure
    remote_id, entry = await submit(fal, "seedance-2.0")
    final = (await poll_to_end(fal, remote_id, entry))[-1]
    assert final.state is RemoteState.FAILED and isinstance(final.error, cls) and final.error.code == code
    assert emu.count("result") == 0  # the status already says why


async def test_a_result_refused_by_the_model_fails_the_job(fal, emu):
    remote_id, entry = await submit(fal, "seedance-2.0")
    emu.inject("result", status=422, body={"detail": [{"loc": ["body", "prompt"], "msg": "flagged",
                                                       "type": "content_policy_violation"}]})
    final = (await poll_to_end(fal, remote_id, entry))[-1]
    assert final.state is RemoteState.FAILED and isinstance(final.error, ContentRejected)


async def test_cancel_stops_a_queued_request(fal, emu):
    remote_id, entry = await submit(fal, "kling-v3-pro")
    await fal.poll(remote_id, entry)
    await fal.cancel(remote_id, entry)
    (cancel,) = emu.requests_to("cancel")
    assert cancel.method == "PUT" and cancel.path == f"/fal-ai/kling-video/requests/{remote_id}/cancel"
    assert (await fal.poll(remote_id, entry)).state is RemoteState.CANCELED
    await fal.cancel(remote_id, entry)  # already over (400): not an error
    await fal.cancel("no-such-request", entry)  # unknown (404): not an error


async def test_expired_output_link_is_refreshed_by_reading_the_request_again(fal, emu, tmp_path):
    remote_id, entry = await submit(fal, "ltx-2-fast")
    final = (await poll_to_end(fal, remote_id, entry))[-1]
    emu.expire_outputs()
    await fal.download(final, entry, tmp_path / "out.mp4")
    assert emu.count("result") == 2 and emu.count("download") == 2 and emu.count("create") == 1
    assert probe(tmp_path / "out.mp4")["frames"] == 24


async def test_an_unknown_status_reads_as_running(fal, emu):
    remote_id, entry = await submit(fal, "veo3.1-fast")
    emu.inject("poll", status=200, body={"status": "WARMING_UP"})
    status = await fal.poll(remote_id, entry)
    assert status.state is RemoteState.RUNNING and status.raw_status == "WARMING_UP"
    assert (await poll_to_end(fal, remote_id, entry))[-1].state is RemoteState.SUCCEEDED


def test_queue_host_and_app_roots():
    assert _as_url("queue.fal.run") == "https://queue.fal.run" and _as_url("http://127.0.0.1:9") == "http://127.0.0.1:9"
    assert app_root("fal-ai/kling-video/v2.1/pro/image-to-video") == "fal-ai/kling-video"
    assert app_root("workflows/me/flow/run") == "workflows/me/flow" and app_root("wan/v2.6/text-to-video") == "wan/v2.6"


def test_quotes_follow_the_rows_prices():
    from reelforge.studio.pricing import quote

    assert quote(make_spec("fal", "veo3.1-fast", audio=True), model_entry("fal", "veo3.1-fast")).usd == pytest.approx(1.20)
    assert quote(make_spec("fal", "kling-v2.1-pro", first_frame=URL, duration_s=10),
                 model_entry("fal", "kling-v2.1-pro")).usd == pytest.approx(0.98)
    hailuo = make_spec("fal", "hailuo-02-standard", first_frame=URL, resolution="512p")
    assert quote(hailuo, model_entry("fal", "hailuo-02-standard")).usd == pytest.approx(0.10)
    assert model_entry("fal", "pika-2.2").price.estimate and not model_entry("fal", "veo3.1-fast").price.estimate
