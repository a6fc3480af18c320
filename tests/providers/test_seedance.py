"""The Seedance adapter against the loopback Ark emulator: wire format, inputs, quotes, faults, errors."""

from __future__ import annotations

import logging

import pytest
from provider_utils import require_provider

require_provider("seedance")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, file_ref, make_spec, model_entry, poll_to_end, probe, run_remote
from emulators.seedance import SIZES, SeedanceEmulator
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
from reelforge.providers.seedance.adapter import SeedanceProvider
from reelforge.studio.pricing import quote

V2 = "seedance-2.0"


@pytest.fixture
def emu():
    with SeedanceEmulator() as emulator:
        yield emulator


@pytest.fixture
def seedance(emu, tmp_path, settings):
    return SeedanceProvider(adapter_settings(tmp_path, ARK_API_KEY=emu.api_key, ARK_BASE_URL=emu.base_url))


def normalized(provider, model_id=V2, **fields):
    spec, _ = provider.normalize(make_spec("seedance", model_id, **fields), model_entry("seedance", model_id))
    return spec


async def test_text_to_video_end_to_end(seedance, emu, tmp_path):
    spec = normalized(seedance, duration_s=4, seed=7, resolution="480p")
    _, seen = await run_remote(seedance, spec, tmp_path / "out.mp4")
    assert emu.count("create") == 1
    create = emu.requests_to("create")[0]
    assert create.path == "/api/v3/contents/generations/tasks"
    assert create.headers["authorization"] == f"Bearer {emu.api_key}"
    assert create.json == {
        "model": "dreamina-seedance-2-0-260128", "content": [{"type": "text", "text": spec.prompt}],
        "ratio": "16:9", "resolution": "480p", "duration": 4, "generate_audio": False, "watermark": False, "return_last_frame": True, "seed": 7,
    }  # fmt: skip
    assert [s.raw_status for s in seen] == ["queued", "running", "running", "succeeded"]
    assert all(s.progress is None for s in seen)  # Ark reports none; never invented
    tokens = 864 * 496 * 24 * 4 // 1024
    assert seen[-1].cost_usd == pytest.approx(round(tokens * 7.0 / 1e6, 4))
    info = probe(tmp_path / "out.mp4")
    assert info["codec"] == "h264" and info["frames"] == 96 and info["seconds"] == pytest.approx(4, abs=0.1)


def test_normalize_sets_the_rendered_size_and_the_quote_follows_the_token_formula(seedance):
    spec, notes = seedance.normalize(make_spec("seedance", V2, aspect_ratio="4:3", duration_s=5),
                                     model_entry("seedance", V2))
    assert (spec.width, spec.height) == (752, 560)  # 480p is the catalog's first resolution
    tokens = 752 * 560 * 24 * 5 // 1024
    assert f"{tokens:,} output tokens" in notes[0]
    assert quote(spec, model_entry("seedance", V2)).usd == pytest.approx(tokens * 7.0 / 1e6, abs=1e-4)
    hd = normalized(seedance, resolution="1080p", duration_s=10)
    assert quote(hd, model_entry("seedance", V2)).usd == pytest.approx(1920 * 1080 * 24 * 10 / 1024 * 7.7 / 1e6, abs=1e-4)


@pytest.mark.parametrize("model_id", ["seedance-2.0", "seedance-2.0-fast", "seedance-2.5"])
def test_catalog_price_row_restates_the_token_price(model_id):
    """The shared quote prices per megapixel-frame; the facts hold Ark's own constants. Keep them in step."""
    model = model_entry("seedance", model_id)
    facts = model.facts
    for res in model.capabilities.resolutions:
        per_mpx_frame = model.price.by_resolution.get(res, model.price.usd)
        assert per_mpx_frame == pytest.approx(facts.usd_per_million_tokens[res] / facts.pixels_per_token)
        for aspect in model.capabilities.aspect_ratios:
            assert facts.size(res, aspect) == SIZES[res][aspect]  # the emulator's independent table
    assert model.price.estimate and model.max_poll_seconds and model.poll_interval_s
    assert model_entry("seedance", "seedance-2.5").max_poll_seconds >= 600  # 30 s clips took up to 479 s


async def test_first_and_last_frame_from_local_files_go_inline(seedance, emu, tmp_path):
    first = make_image(tmp_path / "a.png", color="red")
    last = make_image(tmp_path / "b.jpg", color="green")
    spec = normalized(seedance, duration_s=4, first_frame=file_ref(first), last_frame=file_ref(last, "image/jpeg"),
                      audio=True)
    await run_remote(seedance, spec, tmp_path / "out.mp4")
    body = emu.requests_to("create")[0].json
    images = [c for c in body["content"] if c["type"] == "image_url"]
    assert [i["role"] for i in images] == ["first_frame", "last_frame"]
    assert images[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert images[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert body["generate_audio"] is True


async def test_reference_images_and_watermark_option(seedance, emu, tmp_path):
    ref = make_image(tmp_path / "r.png", color="blue")
    extra = {"reference_images": [str(ref), "https://images.example.com/hero.png"], "watermark": True}
    spec = normalized(seedance, duration_s=4, extra=extra)
    await run_remote(seedance, spec, tmp_path / "out.mp4")
    body = emu.requests_to("create")[0].json
    refs = [c for c in body["content"] if c["type"] == "image_url"]
    assert [r["role"] for r in refs] == ["reference_image", "reference_image"]
    assert refs[0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert refs[1]["image_url"]["url"] == "https://images.example.com/hero.png" and body["watermark"] is True


async def test_volcengine_host_uses_its_own_model_ids(emu, tmp_path, settings):
    # The China host is recognised by name; here it is only used for normalize (nothing is sent).
    china = SeedanceProvider(adapter_settings(tmp_path, ARK_API_KEY="k", ARK_BASE_URL="https://ark.cn-beijing.volces.com/api/v3"))
    assert china._wire_model(model_entry("seedance", V2)) == "doubao-seedance-2-0-260128"
    with pytest.raises(UnsupportedParameter) as info:
        china.normalize(make_spec("seedance", "seedance-2.5"), model_entry("seedance", "seedance-2.5"))
    assert info.value.param == "model"


# --- refusals before anything is sent ------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields", "param"),
    [
        ("seedance-2.0-fast", {"resolution": "1080p"}, "aspect_ratio"),
        (V2, {"prompt": "a kite --dur 15"}, "prompt"),
        (V2, {"prompt": "a kite --rs 1080p"}, "prompt"),
        (V2, {"last_frame": "x"}, "first_frame"),
        (V2, {"continue_remote_id": "cgt-1"}, "continue_remote_id"),
        (V2, {"first_frame": MediaRef(kind="url", url="http://example.com/a.png")}, "first_frame"),
        (V2, {"seed": 2**32}, "seed"),
        (V2, {"extra": {"camera_fixed": True}}, "options.camera_fixed"),
        (V2, {"extra": {"reference_images": [f"/r{i}.png" for i in range(10)]}}, "options.reference_images"),
        (V2, {"extra": {"reference_images": ["https://a.example.com/a.png"]}, "first_frame": "x"}, "options.reference_images"),
    ],
)
def test_normalize_refuses_what_ark_would_refuse_or_bill_differently(seedance, tmp_path, model, fields, param):
    for key in ("first_frame", "last_frame"):
        if fields.get(key) == "x":
            fields[key] = file_ref(make_image(tmp_path / f"{key}.png"))
    with pytest.raises(UnsupportedParameter) as info:
        seedance.normalize(make_spec("seedance", model, **fields), model_entry("seedance", model))
    assert info.value.param == param


async def test_missing_key_names_the_variable_and_sends_nothing(emu, tmp_path, settings):
    provider = SeedanceProvider(adapter_settings(tmp_path, ARK_BASE_URL=emu.base_url))
    with pytest.raises(MissingCredentials, match="ARK_API_KEY"):
        await provider.submit(make_spec("seedance", V2), model_entry("seedance", V2))
    assert emu.requests == []


async def test_wrong_key_is_auth_failed_without_the_key(emu, tmp_path, settings):
    provider = SeedanceProvider(adapter_settings(tmp_path, ARK_API_KEY="ark-wrong-key-123", ARK_BASE_URL=emu.base_url))
    with pytest.raises(AuthFailed, match="ARK_API_KEY") as info:
        await provider.submit(make_spec("seedance", V2), model_entry("seedance", V2))
    assert "ark-wrong-key-123" not in str(info.value)


async def test_provider_validation_error_names_our_parameter(seedance, emu):
    # normalize skipped on purpose: the emulator's own validation must answer like Ark does.
    with pytest.raises(InvalidRequest, match="ratio") as info:
        await seedance.submit(make_spec("seedance", V2, aspect_ratio="9:21"), model_entry("seedance", V2))
    assert info.value.param == "aspect_ratio"


async def test_moderation_at_create_is_content_rejected(seedance, emu):
    emu.inject("create", status=400, body={"error": {"code": "InputTextSensitiveContentDetected",
                                                     "message": "The request failed because the input text may contain sensitive information.",
                                                     "param": "", "type": "BadRequest"}})
    with pytest.raises(ContentRejected, match="InputTextSensitiveContentDetected"):
        await seedance.submit(make_spec("seedance", V2), model_entry("seedance", V2))


async def test_rate_limited_create_is_not_retried(seedance, emu):
    emu.inject("create", status=429, retry_after=30)
    with pytest.raises(RateLimited) as info:
        await seedance.submit(make_spec("seedance", V2), model_entry("seedance", V2))
    assert info.value.retry_after == 30 and emu.count("create") == 1


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 502}, {"drop": True, "process": True}, {"malformed": True}])
async def test_lost_create_answers_are_outcome_unknown_and_never_resent(seedance, emu, fault):
    emu.inject("create", **fault)
    with pytest.raises(OutcomeUnknown, match="Do not submit again"):
        await seedance.submit(make_spec("seedance", V2), model_entry("seedance", V2))
    assert emu.count("create") == 1


# --- status reads, failures, cancel, downloads ---------------------------------------------------


async def test_status_reads_ride_out_429_5xx_and_garbage(seedance, emu):
    model = model_entry("seedance", V2)
    remote_id = await seedance.submit(make_spec("seedance", V2), model)
    emu.inject("poll", status=429, retry_after_ms=20, times=2)
    emu.inject("poll", status=503)
    emu.inject("poll", malformed=True)
    seen = await poll_to_end(seedance, remote_id, model)
    assert seen[-1].state is RemoteState.SUCCEEDED and emu.count("poll") == len(seen) + 4


@pytest.mark.parametrize(
    ("code", "cls"),
    [("OutputVideoSensitiveContentDetected", ContentRejected), ("InputImageSensitiveContentDetected", ContentRejected),
     ("InternalServiceError", ProviderFailure), ("InvalidParameter.DownloadFailed", InvalidRequest)],
)
async def test_failed_tasks_map_to_actionable_errors(seedance, emu, code, cls):
    emu.fail_next = (code, "The task did not pass")
    model = model_entry("seedance", V2)
    seen = await poll_to_end(seedance, await seedance.submit(make_spec("seedance", V2), model), model)
    assert seen[-1].state is RemoteState.FAILED and isinstance(seen[-1].error, cls) and code in str(seen[-1].error)
    assert seen[-1].cost_usd is None  # failed tasks are not billed


async def test_cancel_stops_a_queued_task_and_a_running_one_runs_on(seedance, emu, caplog):
    model = model_entry("seedance", V2)
    queued = await seedance.submit(make_spec("seedance", V2), model)
    await seedance.cancel(queued, model)
    assert (await seedance.poll(queued, model)).state is RemoteState.CANCELED
    running = await seedance.submit(make_spec("seedance", V2), model)
    await seedance.poll(running, model)
    await seedance.poll(running, model)
    with caplog.at_level(logging.INFO):
        await seedance.cancel(running, model)  # Ark refuses: not an error for the caller
    assert "could not be cancelled" in caplog.text
    assert (await poll_to_end(seedance, running, model))[-1].state is RemoteState.SUCCEEDED
    await seedance.cancel("cgt-no-such-task", model)  # already gone: not an error


async def test_expired_link_is_refreshed_and_signed_links_never_reach_logs(seedance, emu, tmp_path, caplog):
    from reelforge.logs import install_log_redaction

    install_log_redaction(seedance.settings, read_environment=False)  # what the server does at start
    model = model_entry("seedance", V2)
    with caplog.at_level(logging.DEBUG):
        remote_id = await seedance.submit(make_spec("seedance", V2, duration_s=4), model)
        final = (await poll_to_end(seedance, remote_id, model))[-1]
        emu.expire_outputs()
        polls = emu.count("poll")
        await seedance.download(final, model, tmp_path / "out.mp4")
    assert emu.count("poll") == polls + 1 and emu.count("download") == 2
    assert probe(tmp_path / "out.mp4")["frames"] == 96
    for token in emu.issued_tokens():
        assert token not in caplog.text
    assert emu.api_key not in caplog.text


async def test_output_cleared_after_24h_is_a_clear_failure_not_a_new_task(seedance, emu, tmp_path):
    model = model_entry("seedance", V2)
    remote_id = await seedance.submit(make_spec("seedance", V2, duration_s=4), model)
    final = (await poll_to_end(seedance, remote_id, model))[-1]
    emu.purge_outputs()
    with pytest.raises(ProviderFailure):
        await seedance.download(final, model, tmp_path / "out.mp4")
    assert emu.count("create") == 1


async def test_an_unknown_task_status_reads_as_running(seedance, emu):
    model = model_entry("seedance", V2)
    remote_id = await seedance.submit(make_spec("seedance", V2), model)
    emu.inject("poll", status=200, body={"id": remote_id, "status": "warming"})
    status = await seedance.poll(remote_id, model)
    assert status.state is RemoteState.RUNNING and status.raw_status == "warming"


async def test_the_list_endpoint_finds_a_task_whose_create_answer_was_lost(seedance, emu):
    """Issue 12's recovery input: the task exists at Ark even though our create ended `unknown`."""
    emu.inject("create", drop=True, process=True)
    with pytest.raises(OutcomeUnknown):
        await seedance.submit(make_spec("seedance", V2, seed=11), model_entry("seedance", V2))
    listed = emu.task_list({"filter.model": ["dreamina-seedance-2-0-260128"], "filter.status": ["queued"]})
    assert listed["total"] == 1 and listed["items"][0]["id"] in emu.jobs and listed["items"][0]["seed"] == 11
