"""The xAI adapter against the loopback xAI emulator: wire format, inputs, extension, faults, errors."""

from __future__ import annotations

import logging

import pytest
from provider_utils import require_provider

require_provider("xai")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, file_ref, make_spec, model_entry, poll_to_end, probe, run_remote
from emulators.xai import XaiEmulator
from media_utils import make_image

from reelforge.errors import (
    AuthFailed,
    ContentRejected,
    InvalidRequest,
    MissingCredentials,
    OutcomeUnknown,
    ProviderFailure,
    RateLimited,
    UnsupportedParameter,
)
from reelforge.generation_spec import MediaRef
from reelforge.providers.base import RemoteState
from reelforge.providers.xai.adapter import XaiProvider

V1, V15 = "grok-imagine-video", "grok-imagine-video-1.5"


@pytest.fixture
def emu():
    with XaiEmulator() as emulator:
        yield emulator


@pytest.fixture
def xai(emu, tmp_path, settings):
    return XaiProvider(adapter_settings(tmp_path, XAI_API_KEY=emu.api_key, XAI_BASE_URL=emu.url + "/v1"))


async def test_text_to_video_end_to_end(xai, emu, tmp_path):
    spec = make_spec("xai", V1, duration_s=2, resolution="720p", aspect_ratio="3:2")
    dest = tmp_path / "out.mp4"
    remote_id, seen = await run_remote(xai, spec, dest)

    create = emu.requests_to("create")[0]
    assert emu.count("create") == 1 and create.path == "/v1/videos/generations"
    assert create.headers["authorization"] == f"Bearer {emu.api_key}"
    assert create.json == {"model": V1, "prompt": spec.prompt, "duration": 2, "aspect_ratio": "3:2",
                           "resolution": "720p"}
    assert [s.raw_status for s in seen][0] == "pending" and seen[-1].raw_status == "done"
    running = [s.progress for s in seen if s.state is RemoteState.RUNNING]
    assert running and all(p is not None and 0 <= p < 1 for p in running)
    assert seen[-1].cost_usd == pytest.approx(0.14)  # usage.cost_in_usd_ticks: 2 s at $0.07
    info = probe(dest)
    assert info["codec"] == "h264" and info["frames"] == 48 and info["seconds"] == pytest.approx(2, abs=0.1)


async def test_image_to_video_inline_and_silent(xai, emu, tmp_path):
    image = make_image(tmp_path / "first.png", (160, 90), "blue")
    spec = make_spec("xai", V1, duration_s=2, first_frame=file_ref(image), audio=False)
    await run_remote(xai, spec, tmp_path / "out.mp4")
    body = emu.requests_to("create")[0].json
    assert body["image"]["url"].startswith("data:image/png;base64,") and body["generate_audio"] is False
    assert probe(tmp_path / "out.mp4")["frames"] == 48


async def test_https_image_url_is_passed_as_given(xai, emu, tmp_path):
    url = "https://images.example.com/frame.png"
    spec = make_spec("xai", V1, duration_s=2, first_frame=MediaRef(kind="url", url=url, mime="image/png"))
    xai.normalize(spec, model_entry("xai", V1))
    await run_remote(xai, spec, tmp_path / "out.mp4")
    assert emu.requests_to("create")[0].json["image"] == {"url": url}


async def test_first_and_last_frame_on_1_5_at_1080p(xai, emu, tmp_path):
    first, last = make_image(tmp_path / "a.jpg", color="red"), make_image(tmp_path / "b.png", color="green")
    spec = make_spec("xai", V15, duration_s=3, resolution="1080p", first_frame=file_ref(first, "image/jpeg"),
                     last_frame=file_ref(last))
    xai.normalize(spec, model_entry("xai", V15))
    _, seen = await run_remote(xai, spec, tmp_path / "out.mp4")
    body = emu.requests_to("create")[0].json
    assert body["image"]["url"].startswith("data:image/jpeg;base64,")
    assert body["last_frame"]["url"].startswith("data:image/png;base64,") and body["resolution"] == "1080p"
    assert seen[-1].cost_usd == pytest.approx(0.75)


async def test_reference_images_from_local_files(xai, emu, tmp_path):
    refs = [str(make_image(tmp_path / f"r{i}.png", color=c)) for i, c in enumerate(("red", "blue"))]
    spec = make_spec("xai", V15, duration_s=5, extra={"reference_images": refs})
    spec, _ = xai.normalize(spec, model_entry("xai", V15))
    await run_remote(xai, spec, tmp_path / "out.mp4")
    body = emu.requests_to("create")[0].json
    assert len(body["reference_images"]) == 2 and "image" not in body
    assert all(r["url"].startswith("data:image/png;base64,") for r in body["reference_images"])


async def test_native_extension_sends_the_source_url_and_returns_the_whole_clip(xai, emu, tmp_path):
    model = model_entry("xai", V1)
    source_id, _ = await run_remote(xai, make_spec("xai", V1, duration_s=3), tmp_path / "source.mp4")
    emu.expire_outputs()  # the link seen at the end has expired: a fresh read gives a working one
    spec = make_spec("xai", V1, prompt="the kite climbs", duration_s=2, continue_remote_id=source_id)
    _, notes = xai.normalize(spec, model)
    assert "whole, lengthened clip" in notes[0]
    await run_remote(xai, spec, tmp_path / "extended.mp4")
    ext = emu.requests_to("extend")[0]
    assert ext.path == "/v1/videos/extensions" and set(ext.json) == {"model", "prompt", "duration", "video"}
    assert ext.json["duration"] == 2 and ext.json["video"]["url"].startswith(emu.url + "/files/")
    assert emu.count("create") == 1 and emu.count("extend") == 1
    assert probe(tmp_path / "extended.mp4")["seconds"] == pytest.approx(5, abs=0.1)


async def test_extension_of_a_job_without_a_video_is_refused_before_any_create(xai, emu):
    model = model_entry("xai", V1)
    emu.fail_next = ("internal_error", "boom")
    source = await xai.submit(make_spec("xai", V1, duration_s=3), model)
    await poll_to_end(xai, source, model)
    with pytest.raises(InvalidRequest, match="no finished video") as info:
        await xai.submit(make_spec("xai", V1, duration_s=2, continue_remote_id=source), model)
    assert info.value.param == "source" and emu.count("extend") == 0


# --- refusals before anything is sent ------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields", "param"),
    [
        (V1, {"last_frame": "img"}, "last_image"),
        (V15, {}, "image"),  # 1.5 animates images: no text-only clips
        (V1, {"extra": {"reference_images": ["r"] * 8}}, "options.reference_images"),
        (V1, {"extra": {"reference_images": ["r"]}, "duration_s": 12}, "duration_s"),
        (V1, {"extra": {"reference_images": ["r"]}, "first_frame": "img"}, "options.reference_images"),
        (V1, {"extra": {"seed": 3}}, "options.seed"),
        (V1, {"video": MediaRef(kind="url", url="https://v.example.com/a.mp4", mime="video/mp4")}, "video"),
        (V1, {"first_frame": MediaRef(kind="url", url="http://example.com/a.png", mime="image/png")}, "image"),
        (V1, {"continue_remote_id": "abc", "duration_s": 12}, "duration_s"),
        (V1, {"continue_remote_id": "abc", "duration_s": 3, "continue_direction": "backward"}, "direction"),
        (V15, {"continue_remote_id": "abc", "duration_s": 3}, "continue_remote_id"),
        (V1, {"duration_s": 2.5}, "duration_s"),
    ],
)
def test_normalize_refuses_model_specific_combinations(xai, tmp_path, model, fields, param):
    image = file_ref(make_image(tmp_path / "l.png"))
    for key in ("first_frame", "last_frame"):
        if fields.get(key) == "img":
            fields[key] = image
    if "reference_images" in fields.get("extra", {}):
        fields["extra"] = {"reference_images": [image.path] * len(fields["extra"]["reference_images"])}
    with pytest.raises(UnsupportedParameter) as info:
        xai.normalize(make_spec("xai", model, **fields), model_entry("xai", model))
    assert info.value.param == param


async def test_missing_key_names_the_variable_and_sends_nothing(emu, tmp_path, settings):
    provider = XaiProvider(adapter_settings(tmp_path, XAI_BASE_URL=emu.url + "/v1"))
    with pytest.raises(MissingCredentials, match="XAI_API_KEY"):
        await provider.submit(make_spec("xai", V1, duration_s=2), model_entry("xai", V1))
    assert emu.requests == []


async def test_wrong_key_is_auth_failed_and_never_echoed(emu, tmp_path, settings, caplog):
    caplog.set_level(logging.DEBUG)
    provider = XaiProvider(adapter_settings(tmp_path, XAI_API_KEY="xai-wrong-secret-987",
                                            XAI_BASE_URL=emu.url + "/v1"))
    with pytest.raises(AuthFailed, match="XAI_API_KEY") as info:
        await provider.submit(make_spec("xai", V1, duration_s=2), model_entry("xai", V1))
    assert emu.requests[0].route == "create"  # the real 400 "Incorrect API key provided" answer
    assert "wrong-secret" not in str(info.value) and "wrong-secret" not in caplog.text


async def test_missing_authorization_401_is_auth_failed(xai, emu):
    emu.inject("create", status=401)
    with pytest.raises(AuthFailed):
        await xai.submit(make_spec("xai", V1, duration_s=2), model_entry("xai", V1))


async def test_provider_validation_error_names_our_parameter(xai, emu):
    # Skip normalize on purpose: the emulator's own validation must answer like xAI does.
    spec = make_spec("xai", V1, duration_s=12, extra={"reference_images": []})
    spec = spec.model_copy(update={"extra": {}, "resolution": "1080p"})
    with pytest.raises(InvalidRequest, match="resolution") as info:
        await xai.submit(spec, model_entry("xai", V1))
    assert info.value.param == "resolution" and emu.count("create") == 1


async def test_rate_limited_create_is_not_retried(xai, emu):
    emu.inject("create", status=429, retry_after=30)
    with pytest.raises(RateLimited) as info:
        await xai.submit(make_spec("xai", V1, duration_s=2), model_entry("xai", V1))
    assert info.value.retry_after == 30 and emu.count("create") == 1


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 502}, {"drop": True, "process": True},
                                   {"malformed": True}])
async def test_lost_create_answers_are_outcome_unknown(xai, emu, fault):
    emu.inject("create", **fault)
    with pytest.raises(OutcomeUnknown, match="Do not submit again"):
        await xai.submit(make_spec("xai", V1, duration_s=2), model_entry("xai", V1))
    assert emu.count("create") == 1


# --- status reads, failures, downloads -----------------------------------------------------------


async def test_status_reads_ride_out_429_5xx_and_garbage(xai, emu):
    model = model_entry("xai", V1)
    remote_id = await xai.submit(make_spec("xai", V1, duration_s=2), model)
    emu.inject("poll", status=429, retry_after_ms=20, times=2)
    emu.inject("poll", status=503)
    emu.inject("poll", malformed=True)
    seen = await poll_to_end(xai, remote_id, model)
    assert seen[-1].state is RemoteState.SUCCEEDED and emu.count("poll") == len(seen) + 4


@pytest.mark.parametrize(
    ("code", "cls"),
    [("content_moderation", ContentRejected), ("internal_error", ProviderFailure),
     ("invalid_image", InvalidRequest)],
)
async def test_failed_requests_map_to_actionable_errors(xai, emu, code, cls):
    emu.fail_next = (code, "The request did not pass")
    model = model_entry("xai", V1)
    seen = await poll_to_end(xai, await xai.submit(make_spec("xai", V1, duration_s=2), model), model)
    assert seen[-1].state is RemoteState.FAILED and isinstance(seen[-1].error, cls) and code in str(seen[-1].error)


async def test_moderated_output_is_content_rejected_with_its_cost(xai, emu):
    emu.moderate_next = True
    model = model_entry("xai", V1)
    seen = await poll_to_end(xai, await xai.submit(make_spec("xai", V1, duration_s=2), model), model)
    assert seen[-1].state is RemoteState.FAILED and isinstance(seen[-1].error, ContentRejected)
    assert seen[-1].cost_usd == pytest.approx(0.10)  # what xAI reports it billed, kept for the receipt


async def test_expired_request_is_a_failure(xai, emu):
    emu.expire_next = True
    model = model_entry("xai", V1)
    seen = await poll_to_end(xai, await xai.submit(make_spec("xai", V1, duration_s=2), model), model)
    assert seen[-1].raw_status == "expired" and isinstance(seen[-1].error, ProviderFailure)


async def test_cancel_sends_nothing_and_the_job_runs_on(xai, emu):
    model = model_entry("xai", V1)
    remote_id = await xai.submit(make_spec("xai", V1, duration_s=2), model)
    before = len(emu.requests)
    await xai.cancel(remote_id, model)  # xAI has no cancel endpoint
    assert len(emu.requests) == before
    assert (await poll_to_end(xai, remote_id, model))[-1].state is RemoteState.SUCCEEDED


async def test_expired_output_link_is_refreshed_by_reading_the_request_again(xai, emu, tmp_path):
    model = model_entry("xai", V1)
    final = (await poll_to_end(xai, await xai.submit(make_spec("xai", V1, duration_s=2), model), model))[-1]
    emu.expire_outputs()
    polls = emu.count("poll")
    await xai.download(final, model, tmp_path / "out.mp4")
    assert emu.count("poll") == polls + 1 and emu.count("download") == 2
    assert probe(tmp_path / "out.mp4")["frames"] == 48


async def test_an_unknown_status_reads_as_running_not_failed(xai, emu):
    model = model_entry("xai", V1)
    remote_id = await xai.submit(make_spec("xai", V1, duration_s=2), model)
    emu.inject("poll", status=200, body={"status": "warming_up"})
    status = await xai.poll(remote_id, model)
    assert status.state is RemoteState.RUNNING and status.raw_status == "warming_up" and status.error is None


def test_catalog_prices_and_rules():
    from reelforge.studio.pricing import quote

    v1, v15 = model_entry("xai", V1), model_entry("xai", V15)
    assert v1.capabilities.extend == "native" and v1.capabilities.extend_output == "full"
    assert v1.price.estimate and v15.price.estimate and v15.price.by_resolution["1080p"] == 0.25
    assert quote(make_spec("xai", V1, duration_s=10, resolution="720p"), v1).usd == pytest.approx(0.70)
    assert v1.max_poll_seconds and v1.poll_interval_s
