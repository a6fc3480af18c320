"""The Sora adapter against the loopback Videos API emulator: wire format, inputs, faults, errors."""

from __future__ import annotations

import logging

import pytest
from provider_utils import require_provider

require_provider("sora")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, file_ref, make_spec, model_entry, poll_to_end, probe, run_remote
from emulators.sora import SoraEmulator
from media_utils import make_image
from PIL import Image

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
from reelforge.providers.http import OutputUrlExpired
from reelforge.providers.sora.adapter import SoraProvider

SORA2 = model_entry("sora", "sora-2")
PRO = model_entry("sora", "sora-2-pro")


@pytest.fixture
def emu():
    with SoraEmulator() as emulator:
        yield emulator


@pytest.fixture
def sora(emu, tmp_path):
    return SoraProvider(adapter_settings(tmp_path, OPENAI_API_KEY=emu.api_key, OPENAI_BASE_URL=emu.url + "/v1"))


def form(create) -> dict[str, str]:
    """The text fields of a recorded multipart create."""
    from emulators.sora import _form

    return _form(create)[0]


async def test_text_to_video_end_to_end(sora, emu, tmp_path):
    spec, notes = sora.normalize(make_spec("sora", "sora-2", duration_s=4, aspect_ratio="16:9"), SORA2)
    assert (spec.width, spec.height) == (1280, 720) and notes == []
    dest = tmp_path / "out.mp4"
    remote_id, seen = await run_remote(sora, spec, dest)

    assert remote_id.startswith("video_") and emu.count("create") == 1
    create = emu.requests_to("create")[0]
    assert create.path == "/v1/videos" and create.headers["content-type"].startswith("multipart/form-data")
    assert form(create) == {"prompt": spec.prompt, "model": "sora-2", "seconds": "4", "size": "1280x720"}
    assert [s.raw_status for s in seen][0] == "queued" and seen[-1].raw_status == "completed"
    running = [s.progress for s in seen if s.state is RemoteState.RUNNING]
    assert running and all(p is not None and 0 < p < 1 for p in running)  # Sora's own integer percent / 100
    assert all(s.progress is None for s in seen if s.raw_status == "queued")
    download = emu.requests_to("download")[0]
    assert download.path == f"/v1/videos/{remote_id}/content"
    assert download.headers["authorization"] == f"Bearer {emu.api_key}"  # no public link: the key fetches it
    info = probe(dest)
    assert info["codec"] == "h264" and info["frames"] == 120 and (info["width"], info["height"]) == (160, 90)


async def test_pro_high_resolution_portrait(sora, emu, tmp_path):
    spec, _ = sora.normalize(make_spec("sora", "sora-2-pro", resolution="1024p", aspect_ratio="9:16", duration_s=8), PRO)
    assert (spec.width, spec.height) == (1024, 1792)
    await run_remote(sora, spec, tmp_path / "out.mp4")
    assert form(emu.requests_to("create")[0])["size"] == "1024x1792"
    assert probe(tmp_path / "out.mp4")["seconds"] == pytest.approx(8, abs=0.1)


async def test_snapshot_rows_send_their_dated_model_name(sora, emu, tmp_path):
    for model in ("sora-2-2025-12-08", "sora-2-pro-2025-10-06"):
        await sora.submit(make_spec("sora", model), model_entry("sora", model))
    assert [form(c)["model"] for c in emu.requests_to("create")] == ["sora-2-2025-12-08", "sora-2-pro-2025-10-06"]


async def test_local_image_of_another_size_is_conformed_and_uploaded(sora, emu, tmp_path):
    image = make_image(tmp_path / "first.jpg", (400, 400), "blue")
    spec = make_spec("sora", "sora-2", aspect_ratio="16:9", first_frame=file_ref(image, "image/jpeg"))
    spec, notes = sora.normalize(spec, SORA2)
    assert "400x400" in notes[0] and "1280x720" in notes[0]
    await run_remote(sora, spec, tmp_path / "out.mp4")
    from emulators.sora import _form

    _, files = _form(emu.requests_to("create")[0])
    mime, data = files["input_reference"]
    assert mime == "image/png"
    from io import BytesIO

    assert Image.open(BytesIO(data)).size == (1280, 720)


async def test_image_at_the_exact_size_goes_up_byte_for_byte(sora, emu, tmp_path):
    image = make_image(tmp_path / "first.png", (720, 1280), "green")
    spec, notes = sora.normalize(make_spec("sora", "sora-2", aspect_ratio="9:16", first_frame=file_ref(image)), SORA2)
    assert notes == []
    await sora.submit(spec, SORA2)
    from emulators.sora import _form

    assert _form(emu.requests_to("create")[0])[1]["input_reference"] == ("image/png", image.read_bytes())


async def test_image_url_goes_as_input_reference_image_url(sora, emu):
    url = "https://images.example.com/frame.png"
    spec, notes = sora.normalize(make_spec("sora", "sora-2", first_frame=MediaRef(kind="url", url=url, mime="image/png")), SORA2)
    assert "exactly 1280x720" in notes[0]
    await sora.submit(spec, SORA2)
    create = emu.requests_to("create")[0]
    assert create.headers["content-type"] == "application/json"
    assert create.json == {"prompt": spec.prompt, "model": "sora-2", "seconds": "4", "size": "1280x720",
                           "input_reference": {"image_url": url}}


async def test_native_extension_through_videos_extensions(sora, emu, tmp_path):
    first, _ = await run_remote(sora, make_spec("sora", "sora-2", duration_s=4), tmp_path / "a.mp4")
    spec, notes = sora.normalize(make_spec("sora", "sora-2", duration_s=8, prompt="the kite dives",
                                           continue_remote_id=first), SORA2)
    assert "stitched" in notes[0]
    _, seen = await run_remote(sora, spec, tmp_path / "b.mp4")
    extend = emu.requests_to("extend")[0]
    assert extend.path == "/v1/videos/extensions"
    assert extend.json == {"prompt": "the kite dives", "seconds": "8", "video": {"id": first}}
    assert probe(tmp_path / "b.mp4")["seconds"] == pytest.approx(12, abs=0.1)  # the stitched whole


# --- refusals before anything is sent ------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fields", "param"),
    [
        ("sora-2", {"resolution": "1024p"}, "aspect_ratio"),  # 1024p is Pro only
        ("sora-2-pro", {"aspect_ratio": "1:1"}, "aspect_ratio"),
        ("sora-2", {"audio": False}, "audio"),
        ("sora-2", {"continue_remote_id": "video_x", "continue_direction": "backward"}, "direction"),
        ("sora-2", {"continue_remote_id": "video_x", "duration_s": 6}, "duration_s"),
    ],
)
def test_normalize_refuses_what_sora_cannot_do(sora, model, fields, param):
    with pytest.raises(UnsupportedParameter) as info:
        sora.normalize(make_spec("sora", model, **fields), model_entry("sora", model))
    assert info.value.param == param


async def test_missing_key_names_the_variable_and_sends_nothing(emu, tmp_path):
    provider = SoraProvider(adapter_settings(tmp_path, OPENAI_BASE_URL=emu.url + "/v1"))
    with pytest.raises(MissingCredentials, match="OPENAI_API_KEY"):
        await provider.submit(make_spec("sora", "sora-2"), SORA2)
    assert emu.requests == []


async def test_wrong_key_is_auth_failed_and_never_quoted(emu, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    provider = SoraProvider(adapter_settings(tmp_path, OPENAI_API_KEY="sk-wrong-key-98765", OPENAI_BASE_URL=emu.url + "/v1"))
    with pytest.raises(AuthFailed, match="OPENAI_API_KEY") as info:
        await provider.submit(make_spec("sora", "sora-2"), SORA2)
    said = str(info.value) + (info.value.hint or "") + caplog.text
    assert "98765" not in said and "sk-wrong" not in said  # OpenAI's 401 quotes the key's ends; we do not


async def test_emulator_validation_error_names_our_parameter(sora, emu):
    # A row whose size table were wrong (Pro's sizes on sora-2): the emulator answers like OpenAI does.
    wrong = SORA2.model_copy(update={"facts": PRO.facts})
    with pytest.raises(InvalidRequest, match="Supported values for sora-2") as info:
        await sora.submit(make_spec("sora", "sora-2-pro", resolution="1024p"), wrong)
    assert info.value.param == "aspect_ratio" and emu.count("create") == 1


async def test_insufficient_quota_is_not_a_rate_limit(sora, emu):
    emu.out_of_quota = True
    with pytest.raises(InsufficientCredits, match="quota"):
        await sora.submit(make_spec("sora", "sora-2"), SORA2)


async def test_moderation_refusal_at_create(sora, emu):
    emu.inject("create", status=400, body={"error": {"message": "Your request was blocked by our moderation system.",
                                                     "type": "invalid_request_error", "param": None,
                                                     "code": "moderation_blocked"}})
    with pytest.raises(ContentRejected, match="moderation_blocked"):
        await sora.submit(make_spec("sora", "sora-2"), SORA2)


async def test_rate_limited_create_is_not_retried(sora, emu):
    emu.inject("create", status=429, retry_after=30)
    with pytest.raises(RateLimited) as info:
        await sora.submit(make_spec("sora", "sora-2"), SORA2)
    assert info.value.retry_after == 30 and emu.count("create") == 1


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 502}, {"drop": True, "process": True}, {"malformed": True}])
async def test_lost_create_answers_are_outcome_unknown(sora, emu, fault):
    emu.inject("create", **fault)
    with pytest.raises(OutcomeUnknown, match="Do not submit again"):
        await sora.submit(make_spec("sora", "sora-2"), SORA2)
    assert emu.count("create") == 1


# --- status reads, failures, cancel, downloads ---------------------------------------------------


async def test_status_reads_ride_out_429_5xx_and_garbage(sora, emu):
    remote_id = await sora.submit(make_spec("sora", "sora-2"), SORA2)
    emu.inject("poll", status=429, retry_after_ms=20, times=2)
    emu.inject("poll", status=503)
    emu.inject("poll", malformed=True)
    seen = await poll_to_end(sora, remote_id, SORA2)
    assert seen[-1].state is RemoteState.SUCCEEDED and emu.count("poll") == len(seen) + 4


@pytest.mark.parametrize(
    ("code", "cls"), [("moderation_blocked", ContentRejected), ("internal_error", ProviderFailure)],
)
async def test_failed_videos_map_to_actionable_errors(sora, emu, code, cls):
    emu.fail_next = (code, "The video could not be generated")
    seen = await poll_to_end(sora, await sora.submit(make_spec("sora", "sora-2"), SORA2), SORA2)
    assert seen[-1].state is RemoteState.FAILED and isinstance(seen[-1].error, cls)
    assert code in str(seen[-1].error)


async def test_cancel_deletes_the_video(sora, emu):
    remote_id = await sora.submit(make_spec("sora", "sora-2"), SORA2)
    await sora.poll(remote_id, SORA2)
    await sora.cancel(remote_id, SORA2)
    assert emu.requests_to("cancel")[0].path == f"/v1/videos/{remote_id}" and emu.jobs[remote_id].canceled
    await sora.cancel(remote_id, SORA2)  # already gone (404): not an error


async def test_a_failed_content_read_is_refreshed_by_reading_the_video_again(sora, emu, tmp_path):
    remote_id = await sora.submit(make_spec("sora", "sora-2"), SORA2)
    final = (await poll_to_end(sora, remote_id, SORA2))[-1]
    emu.inject("download", status=404)
    polls = emu.count("poll")
    await sora.download(final, SORA2, tmp_path / "out.mp4")
    assert emu.count("poll") == polls + 1 and emu.count("download") == 2
    assert probe(tmp_path / "out.mp4")["frames"] == 120


async def test_expired_assets_end_in_a_clear_error(sora, emu, tmp_path):
    remote_id = await sora.submit(make_spec("sora", "sora-2"), SORA2)
    final = (await poll_to_end(sora, remote_id, SORA2))[-1]
    emu.expire_outputs()
    with pytest.raises(OutputUrlExpired):
        await sora.download(final, SORA2, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


async def test_an_unknown_status_reads_as_running(sora, emu):
    remote_id = await sora.submit(make_spec("sora", "sora-2"), SORA2)
    emu.inject("poll", status=200, body={"id": remote_id, "object": "video", "status": "post_processing", "progress": 97})
    status = await sora.poll(remote_id, SORA2)
    assert status.state is RemoteState.RUNNING and status.raw_status == "post_processing"
    assert (await poll_to_end(sora, remote_id, SORA2))[-1].state is RemoteState.SUCCEEDED


def test_catalog_prices_and_quotes():
    from reelforge.studio.pricing import quote

    assert quote(make_spec("sora", "sora-2", duration_s=12), SORA2).usd == pytest.approx(1.20)
    assert quote(make_spec("sora", "sora-2-pro", duration_s=8), PRO).usd == pytest.approx(2.40)
    high = quote(make_spec("sora", "sora-2-pro", duration_s=4, resolution="1024p"), PRO)
    assert high.usd == pytest.approx(2.00) and high.estimate
    assert all(m.price.estimate and m.max_poll_seconds for m in (SORA2, PRO))


async def test_an_error_page_echoing_the_key_is_redacted(sora, emu, caplog):
    caplog.set_level(logging.DEBUG)
    remote_id = await sora.submit(make_spec("sora", "sora-2"), SORA2)
    emu.inject("poll", echo_status=400)
    with pytest.raises(InvalidRequest) as info:
        await sora.poll(remote_id, SORA2)
    assert emu.api_key not in str(info.value) and emu.api_key not in caplog.text
