"""The Google Veo adapter against the loopback Gemini API emulator: wire format, inputs, faults, errors."""

from __future__ import annotations

import pytest
from provider_utils import require_provider

require_provider("veo")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, file_ref, make_spec, model_entry, poll_to_end, probe, run_remote
from emulators.veo import API_KEY, GOOGLE_HOST, VeoEmulator
from media_utils import make_image

from reelforge.errors import (
    AuthFailed,
    ContentRejected,
    InputNotAllowed,
    InvalidRequest,
    MissingCredentials,
    OutcomeUnknown,
    ProviderFailure,
    RateLimited,
    UnsupportedParameter,
)
from reelforge.generation_spec import MediaRef
from reelforge.providers.base import RemoteState
from reelforge.providers.http import OutputUrlExpired
from reelforge.providers.veo.adapter import VeoProvider

FAST = "veo-3.1-fast-generate-preview"


@pytest.fixture
def emu():
    with VeoEmulator() as emulator:
        yield emulator


@pytest.fixture
def veo(emu, tmp_path, settings):
    return VeoProvider(adapter_settings(tmp_path, GEMINI_API_KEY=emu.api_key, GOOGLE_GEMINI_BASE_URL=emu.url))


async def test_text_to_video_end_to_end(veo, emu, tmp_path):
    spec = make_spec("veo", FAST, duration_s=4, negative_prompt="blur")
    remote_id, seen = await run_remote(veo, spec, tmp_path / "out.mp4")

    assert emu.count("create") == 1
    create = emu.requests_to("create")[0]
    assert create.path == f"/v1beta/models/{FAST}:predictLongRunning"
    assert create.headers["x-goog-api-key"] == API_KEY and "authorization" not in create.headers
    assert create.json == {"instances": [{"prompt": spec.prompt}], "parameters": {
        "aspectRatio": "16:9", "durationSeconds": 4, "resolution": "720p", "negativePrompt": "blur"}}
    assert remote_id.startswith(f"models/{FAST}/operations/")
    assert [s.raw_status for s in seen] == ["running"] * 3 + ["done"]
    assert all(s.progress is None for s in seen)  # Google reports none; never invented
    download = emu.requests_to("download")[0]
    assert download.headers["x-goog-api-key"] == API_KEY and download.query["alt"] == ["media"]
    info = probe(tmp_path / "out.mp4")
    assert info["codec"] == "h264" and info["frames"] == 96 and info["seconds"] == pytest.approx(4, abs=0.1)


async def test_the_video_is_fetched_from_the_configured_host_never_the_uri_host(veo, emu):
    model = model_entry("veo", FAST)
    final = (await poll_to_end(veo, await veo.submit(make_spec("veo", FAST, duration_s=4), model), model))[-1]
    assert final.output_urls[0].startswith(f"{emu.url}/v1beta/files/") and GOOGLE_HOST not in final.output_urls[0]


async def test_first_and_last_frame_go_inline(veo, emu, tmp_path):
    first, last = make_image(tmp_path / "a.jpg", color="red"), make_image(tmp_path / "b.png", color="green")
    spec = make_spec("veo", "veo-3.1-generate-preview", duration_s=6, aspect_ratio="9:16",
                     first_frame=file_ref(first, "image/jpeg"), last_frame=file_ref(last))
    spec, _ = veo.normalize(spec, model_entry("veo", "veo-3.1-generate-preview"))
    await run_remote(veo, spec, tmp_path / "out.mp4")
    inst = emu.requests_to("create")[0].json["instances"][0]
    assert inst["image"]["mimeType"] == "image/jpeg" and inst["lastFrame"]["mimeType"] == "image/png"
    assert set(inst["image"]) == {"bytesBase64Encoded", "mimeType"}


async def test_reference_images_are_checked_then_sent_as_assets(veo, emu, tmp_path):
    paths = [str(make_image(tmp_path / f"r{i}.png", color=c)) for i, c in enumerate(("red", "blue", "white"))]
    spec = make_spec("veo", FAST, duration_s=8, extra={"reference_images": paths})
    spec, _ = veo.normalize(spec, model_entry("veo", FAST))
    await run_remote(veo, spec, tmp_path / "out.mp4")
    refs = emu.requests_to("create")[0].json["instances"][0]["referenceImages"]
    assert [r["referenceType"] for r in refs] == ["asset"] * 3 and refs[0]["image"]["mimeType"] == "image/png"


async def test_reference_image_outside_the_allowed_folders_is_refused_before_sending(veo, emu, tmp_path_factory):
    outside = make_image(tmp_path_factory.mktemp("elsewhere") / "r.png")
    spec = make_spec("veo", FAST, duration_s=8, extra={"reference_images": [str(outside)]})
    with pytest.raises(InputNotAllowed):
        veo.normalize(spec, model_entry("veo", FAST))
    with pytest.raises(InputNotAllowed):  # and again at submit, for a spec that skipped normalize
        await veo.submit(spec, model_entry("veo", FAST))
    assert emu.requests == []


async def test_veo2_sends_no_resolution_field(veo, emu, tmp_path):
    await run_remote(veo, make_spec("veo", "veo-2.0-generate-001", duration_s=5), tmp_path / "out.mp4")
    assert "resolution" not in emu.requests_to("create")[0].json["parameters"]


async def test_native_extension_sends_the_earlier_videos_uri(veo, emu, tmp_path):
    model = model_entry("veo", FAST)
    source_id, _ = await run_remote(veo, make_spec("veo", FAST, duration_s=8), tmp_path / "a.mp4")
    spec = make_spec("veo", FAST, duration_s=8, prompt="the kite climbs", continue_remote_id=source_id)
    spec, notes = veo.normalize(spec, model)
    assert "7 s" in notes[0]
    await run_remote(veo, spec, tmp_path / "b.mp4")
    video = emu.requests_to("create")[1].json["instances"][0]["video"]
    assert video["uri"].startswith(f"{GOOGLE_HOST}/v1beta/files/")  # the URI as Google gave it
    assert probe(tmp_path / "b.mp4")["seconds"] == pytest.approx(15, abs=0.1)  # the source plus 7 s


async def test_extending_a_deleted_video_is_refused_by_google(veo, emu, tmp_path):
    model = model_entry("veo", FAST)
    source_id, _ = await run_remote(veo, make_spec("veo", FAST, duration_s=8), tmp_path / "a.mp4")
    emu.expire_outputs()
    with pytest.raises(InvalidRequest) as info:
        await veo.submit(make_spec("veo", FAST, duration_s=8, continue_remote_id=source_id), model)
    assert info.value.param == "source"


@pytest.mark.parametrize(
    ("model", "fields", "param"),
    [
        (FAST, {"resolution": "1080p", "duration_s": 4}, "duration_s"),
        ("veo-3.0-generate-001", {"resolution": "1080p", "aspect_ratio": "9:16"}, "aspect_ratio"),
        ("veo-3.1-lite-generate-preview", {"last_frame": "x", "first_frame": "x"}, "last_image"),
        (FAST, {"audio": False}, "audio"),
        (FAST, {"first_frame": MediaRef(kind="url", url="https://example.com/a.png", mime="image/png")}, "image"),
        (FAST, {"extra": {"steps": 4}}, "options.steps"),
        (FAST, {"extra": {"person_generation": "everyone"}}, "options.person_generation"),
        ("veo-3.1-lite-generate-preview", {"extra": {"reference_images": ["x"]}}, "options.reference_images"),
        (FAST, {"extra": {"reference_images": ["x"]}, "duration_s": 4}, "duration_s"),
        (FAST, {"extra": {"reference_images": ["x"]}, "first_frame": "x"}, "options.reference_images"),
        ("veo-2.0-generate-001", {"continue_remote_id": "models/veo-2.0-generate-001/operations/a1"}, "continue_remote_id"),
        (FAST, {"continue_remote_id": "models/m/operations/a1", "continue_direction": "backward"}, "direction"),
        (FAST, {"continue_remote_id": "models/m/operations/a1", "resolution": "1080p"}, "resolution"),
    ],
)
def test_normalize_refuses_model_specific_combinations(veo, tmp_path, model, fields, param):
    image = file_ref(make_image(tmp_path / "i.png"))
    fields = {k: image if v == "x" and k.endswith("frame") else v for k, v in fields.items()}
    with pytest.raises(UnsupportedParameter) as info:
        veo.normalize(make_spec("veo", model, **fields), model_entry("veo", model))
    assert info.value.param == param


async def test_missing_key_names_the_variable_and_sends_nothing(emu, tmp_path, settings):
    provider = VeoProvider(adapter_settings(tmp_path, GOOGLE_GEMINI_BASE_URL=emu.url))
    with pytest.raises(MissingCredentials, match="GEMINI_API_KEY") as info:
        await provider.submit(make_spec("veo", FAST, duration_s=4), model_entry("veo", FAST))
    assert "GOOGLE_API_KEY" in str(info.value) and emu.requests == []


async def test_google_api_key_is_the_fallback_name(emu, tmp_path, settings):
    provider = VeoProvider(adapter_settings(tmp_path, GOOGLE_API_KEY=emu.api_key, GOOGLE_GEMINI_BASE_URL=emu.url))
    await run_remote(provider, make_spec("veo", FAST, duration_s=4), tmp_path / "out.mp4")
    assert emu.requests_to("create")[0].headers["x-goog-api-key"] == emu.api_key


async def test_wrong_key_is_auth_failed_and_never_shown(emu, tmp_path, settings):
    wrong = "AIzaSy-wrong-key-000000000000000"
    provider = VeoProvider(adapter_settings(tmp_path, GEMINI_API_KEY=wrong, GOOGLE_GEMINI_BASE_URL=emu.url))
    with pytest.raises(AuthFailed, match="GEMINI_API_KEY") as info:  # Google says 400 API_KEY_INVALID
        await provider.submit(make_spec("veo", FAST, duration_s=4), model_entry("veo", FAST))
    assert wrong not in str(info.value)


async def test_a_provider_echoing_the_key_is_redacted(veo, emu):
    emu.inject("create", status=400, body={"error": {"code": 400, "status": "INVALID_ARGUMENT",
                                                     "message": f"bad request from key {API_KEY}"}})
    with pytest.raises(InvalidRequest) as info:
        await veo.submit(make_spec("veo", FAST, duration_s=4), model_entry("veo", FAST))
    assert API_KEY not in str(info.value)


async def test_provider_validation_error_names_our_parameter(veo, emu):
    # Skip normalize on purpose: the emulator's own validation must answer like Google does.
    with pytest.raises(InvalidRequest, match="aspectRatio") as info:
        await veo.submit(make_spec("veo", FAST, duration_s=4, aspect_ratio="9:16").model_copy(
            update={"aspect_ratio": "1:1"}), model_entry("veo", FAST))
    assert info.value.param == "aspect_ratio"


async def test_per_model_rate_limit_honours_retry_info_and_is_not_retried(veo, emu):
    emu.rpm[FAST] = 1
    await veo.submit(make_spec("veo", FAST, duration_s=4), model_entry("veo", FAST))
    with pytest.raises(RateLimited, match="per-minute") as info:
        await veo.submit(make_spec("veo", FAST, duration_s=4), model_entry("veo", FAST))
    assert 55 <= info.value.retry_after <= 61 and emu.count("create") == 2
    other = "veo-3.1-generate-preview"  # limits are per model
    await veo.submit(make_spec("veo", other, duration_s=4), model_entry("veo", other))


async def test_retry_after_header_on_create(veo, emu):
    emu.inject("create", status=429, retry_after=30)
    with pytest.raises(RateLimited) as info:
        await veo.submit(make_spec("veo", FAST, duration_s=4), model_entry("veo", FAST))
    assert info.value.retry_after == 30 and emu.count("create") == 1


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 502}, {"drop": True, "process": True}, {"malformed": True}])
async def test_lost_create_answers_are_outcome_unknown(veo, emu, fault):
    emu.inject("create", **fault)
    with pytest.raises(OutcomeUnknown, match="Do not submit again"):
        await veo.submit(make_spec("veo", FAST, duration_s=4), model_entry("veo", FAST))
    assert emu.count("create") == 1


async def test_status_reads_ride_out_429_5xx_and_garbage(veo, emu):
    model = model_entry("veo", FAST)
    remote_id = await veo.submit(make_spec("veo", FAST, duration_s=4), model)
    emu.inject("poll", status=429, retry_after_ms=20, times=2)
    emu.inject("poll", status=503)
    emu.inject("poll", malformed=True)
    seen = await poll_to_end(veo, remote_id, model)
    assert seen[-1].state is RemoteState.SUCCEEDED and emu.count("poll") == len(seen) + 4


@pytest.mark.parametrize(
    ("failure", "cls"),
    [(("3", "Unsupported image size"), InvalidRequest), (("13", "Internal error"), ProviderFailure),
     (("3", "The prompt could not be submitted: it may violate our Responsible AI practices"), ContentRejected)],
)
async def test_failed_operations_map_to_actionable_errors(veo, emu, failure, cls):
    emu.fail_next = failure
    model = model_entry("veo", FAST)
    seen = await poll_to_end(veo, await veo.submit(make_spec("veo", FAST, duration_s=4), model), model)
    assert seen[-1].state is RemoteState.FAILED and isinstance(seen[-1].error, cls) and seen[-1].raw_status == "error"


async def test_safety_filtered_video_is_moderation(veo, emu):
    emu.filter_next = True
    model = model_entry("veo", FAST)
    final = (await poll_to_end(veo, await veo.submit(make_spec("veo", FAST, duration_s=4), model), model))[-1]
    assert final.state is RemoteState.FAILED and isinstance(final.error, ContentRejected)
    assert final.raw_status == "filtered" and "usage guidelines" in str(final.error)


async def test_cancel_sends_nothing_the_gemini_api_has_no_cancel(veo, emu):
    model = model_entry("veo", FAST)
    remote_id = await veo.submit(make_spec("veo", FAST, duration_s=4), model)
    before = len(emu.requests)
    await veo.cancel(remote_id, model)
    assert len(emu.requests) == before
    assert (await poll_to_end(veo, remote_id, model))[-1].state is RemoteState.SUCCEEDED  # it ran on (billed)


async def test_a_failed_download_is_retried_after_reading_the_operation_again(veo, emu, tmp_path):
    model = model_entry("veo", FAST)
    final = (await poll_to_end(veo, await veo.submit(make_spec("veo", FAST, duration_s=4), model), model))[-1]
    emu.inject("download", status=404)
    polls = emu.count("poll")
    await veo.download(final, model, tmp_path / "out.mp4")
    assert emu.count("poll") == polls + 1 and emu.count("download") == 2 and emu.count("create") == 1
    assert probe(tmp_path / "out.mp4")["frames"] == 96


async def test_a_deleted_file_fails_cleanly_after_one_refresh(veo, emu, tmp_path):
    model = model_entry("veo", FAST)
    final = (await poll_to_end(veo, await veo.submit(make_spec("veo", FAST, duration_s=4), model), model))[-1]
    emu.expire_outputs()  # Google deletes generated files after 2 days
    with pytest.raises(OutputUrlExpired):
        await veo.download(final, model, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists() and emu.count("create") == 1


def test_catalog_prices_and_rules():
    std, fast = model_entry("veo", "veo-3.1-generate-preview"), model_entry("veo", FAST)
    assert std.price.usd == 0.40 and std.price.by_resolution["4k"] == 0.60 and std.price.audio_usd == 0
    assert fast.price.by_resolution == {"1080p": 0.12, "4k": 0.30} and fast.price.estimate
    assert model_entry("veo", "veo-2.0-generate-001").capabilities.audio is False
    assert all(m.max_poll_seconds and m.poll_interval_s for m in (std, fast))


def test_quotes_price_audio_in_and_4k_higher():
    from reelforge.studio.pricing import quote

    std = model_entry("veo", "veo-3.1-generate-preview")
    assert quote(make_spec("veo", std.id, duration_s=8), std).usd == pytest.approx(3.20)
    assert quote(make_spec("veo", std.id, duration_s=8, audio=True), std).usd == pytest.approx(3.20)
    assert quote(make_spec("veo", std.id, duration_s=8, resolution="4k"), std).usd == pytest.approx(4.80)
