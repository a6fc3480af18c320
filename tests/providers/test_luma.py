"""The Luma adapter (Dream Machine ray-2/ray-flash-2 and Agents ray-3.2) against the loopback emulator."""

from __future__ import annotations

import base64

import pytest
from provider_utils import require_provider

require_provider("luma")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, file_ref, make_spec, model_entry, poll_to_end, probe, run_remote
from emulators.luma import LumaEmulator
from media_utils import make_image

from reelforge.errors import (
    AuthFailed,
    ContentRejected,
    InsufficientCredits,
    InvalidRequest,
    MissingCredentials,
    OutcomeUnknown,
    ProviderFailure,
)
from reelforge.providers.base import RemoteState
from reelforge.providers.luma.adapter import LumaProvider
from reelforge.generation_spec import MediaRef

IMAGE_URL = MediaRef(kind="url", url="https://images.example.com/kite.png", mime="image/png")


@pytest.fixture
def emu():
    with LumaEmulator() as emulator:
        emulator.steps = 2
        yield emulator


@pytest.fixture
def luma(emu, tmp_path, settings):
    return LumaProvider(
        adapter_settings(
            tmp_path, LUMAAI_API_KEY=emu.api_key, LUMAAI_BASE_URL=emu.dream_machine_url, LUMA_AGENTS_BASE_URL=emu.agents_url
        )
    )


def creates(emu):
    return [r.json for r in emu.requests_to("create")]


# --- Dream Machine ---------------------------------------------------------------------------------


async def test_ray2_text_to_video_with_camera_concept(luma, emu, tmp_path):
    spec = make_spec("luma", "ray-2", camera_move="orbit_left", resolution="540p")
    remote_id, seen = await run_remote(luma, spec, tmp_path / "out.mp4")
    assert creates(emu) == [{
        "model": "ray-2", "generation_type": "video", "aspect_ratio": "16:9", "resolution": "540p", "duration": "5s",
        "concepts": [{"key": "orbit_left"}], "prompt": spec.prompt,
    }]  # fmt: skip
    assert emu.requests_to("create")[0].path == "/dream-machine/v1/generations/video"
    assert [s.raw_status for s in seen] == ["queued", "dreaming", "completed"]
    assert all(s.progress is None for s in seen)  # Luma reports none; none is invented
    info = probe(tmp_path / "out.mp4")
    assert info["codec"] == "h264" and info["frames"] == 120 and info["seconds"] == pytest.approx(5, abs=0.1)


async def test_image_url_keyframes_and_interpolation(luma, emu, tmp_path):
    end = MediaRef(kind="url", url="https://images.example.com/end.jpg", mime="image/jpeg")
    spec = make_spec("luma", "ray-flash-2", first_frame=IMAGE_URL, last_frame=end, camera_move="push_in")
    await run_remote(luma, spec, tmp_path / "out.mp4")
    body = creates(emu)[0]
    assert body["keyframes"] == {
        "frame0": {"type": "image", "url": IMAGE_URL.url}, "frame1": {"type": "image", "url": end.url},
    }  # fmt: skip
    assert "concepts" not in body and body["prompt"].endswith("Camera pushes in.")


@pytest.mark.slow
async def test_native_extend_forward_and_backward(luma, emu, tmp_path):
    first_id, _ = await run_remote(luma, make_spec("luma", "ray-2"), tmp_path / "a.mp4")
    for direction, slot in (("forward", "frame0"), ("backward", "frame1")):
        spec = make_spec("luma", "ray-2", prompt="the kite flies on", continue_remote_id=first_id, continue_direction=direction)
        luma.normalize(spec, model_entry("luma", "ray-2"))
        _, seen = await run_remote(luma, spec, tmp_path / f"{direction}.mp4")
        assert seen[-1].state is RemoteState.SUCCEEDED
        assert creates(emu)[-1]["keyframes"] == {slot: {"type": "generation", "id": first_id}}
        assert probe(tmp_path / f"{direction}.mp4")["frames"] == 120


async def test_native_loop(luma, emu, tmp_path):
    spec = make_spec("luma", "ray-2", loop=True, first_frame=IMAGE_URL)
    await run_remote(luma, spec, tmp_path / "loop.mp4")
    assert creates(emu)[0]["loop"] is True and creates(emu)[0]["keyframes"]["frame0"]["type"] == "image"


@pytest.mark.parametrize(
    ("model", "fields", "param", "text"),
    [
        ("ray-2", {"first_frame": "local"}, "first_frame", "ray-3.2"),  # no upload: says what to do
        ("ray-2", {"loop": True, "last_frame": IMAGE_URL}, "loop", "end on a given frame"),
        ("ray-2", {"continue_remote_id": "g1", "first_frame": IMAGE_URL}, "first_frame", "Extending"),
        ("ray-2", {"prompt": ""}, "prompt", "prompt is required"),
        ("ray-3.2", {"prompt": " "}, "prompt", "needs a prompt"),
        ("ray-3.2", {"loop": True, "duration_s": 10}, "loop", "5 s"),
    ],
)
def test_normalize_refusals(luma, tmp_path, model, fields, param, text):
    if fields.get("first_frame") == "local":
        fields["first_frame"] = file_ref(make_image(tmp_path / "a.png"))
    with pytest.raises(InvalidRequest, match=text) as info:
        luma.normalize(make_spec("luma", model, **fields), model_entry("luma", model))
    assert info.value.param == param


async def test_cancel_deletes_the_generation(luma, emu):
    model = model_entry("luma", "ray-2")
    remote_id = await luma.submit(make_spec("luma", "ray-2"), model)
    await luma.cancel(remote_id, model)
    assert emu.requests_to("cancel")[0].path.endswith(remote_id) and emu.jobs[remote_id].canceled
    await luma.cancel(remote_id, model)  # already gone: fine


# --- Agents API (ray-3.2) ---------------------------------------------------------------------------


async def test_ray32_local_image_is_sent_inline(luma, emu, tmp_path):
    image = make_image(tmp_path / "start.png", (160, 90), "purple")
    spec = make_spec("luma", "ray-3.2", first_frame=file_ref(image), camera_move="pan_left", loop=True)
    luma.normalize(spec, model_entry("luma", "ray-3.2"))
    remote_id, seen = await run_remote(luma, spec, tmp_path / "out.mp4")
    body = creates(emu)[0]
    assert emu.requests_to("create")[0].path == "/agents/v1/generations"
    assert body["model"] == "ray-3.2" and body["type"] == "video" and body["prompt"].endswith("Camera pans left.")
    start = body["video"].pop("start_frame")
    assert start["media_type"] == "image/png" and base64.b64decode(start["data"]) == image.read_bytes()
    assert body["video"] == {"duration": "5s", "resolution": "540p", "loop": True}
    assert [s.raw_status for s in seen] == ["queued", "processing", "completed"]
    assert probe(tmp_path / "out.mp4")["frames"] == 120


async def test_ray32_extend_uses_generation_ids(luma, emu, tmp_path):
    first_id, _ = await run_remote(luma, make_spec("luma", "ray-3.2", duration_s=10), tmp_path / "a.mp4")
    assert probe(tmp_path / "a.mp4")["frames"] == 240
    spec = make_spec("luma", "ray-3.2", continue_remote_id=first_id, continue_direction="backward")
    await run_remote(luma, spec, tmp_path / "b.mp4")
    assert creates(emu)[-1]["video"]["end_frame"] == {"generation_id": first_id}


async def test_ray32_cancel_sends_nothing(luma, emu):
    model = model_entry("luma", "ray-3.2")
    await luma.cancel(await luma.submit(make_spec("luma", "ray-3.2"), model), model)
    assert emu.count("cancel") == 0


@pytest.mark.parametrize(
    ("model", "failure", "cls"),
    [
        ("ray-2", ("", "Prompt blocked by moderation"), ContentRejected),
        ("ray-3.2", ("content_moderated", "Input image rejected"), ContentRejected),
        ("ray-3.2", ("budget_exhausted", "Budget used up"), InsufficientCredits),
        ("ray-3.2", ("generation_failed", "Internal error"), ProviderFailure),
    ],
)
async def test_failed_generations_map_to_actionable_errors(luma, emu, model, failure, cls):
    emu.fail_next = failure
    entry = model_entry("luma", model)
    seen = await poll_to_end(luma, await luma.submit(make_spec("luma", model), entry), entry)
    assert seen[-1].state is RemoteState.FAILED and isinstance(seen[-1].error, cls)
    assert failure[1] in str(seen[-1].error)


# --- errors and faults --------------------------------------------------------------------------------


async def test_missing_and_wrong_keys(emu, tmp_path, settings):
    base = {"LUMAAI_BASE_URL": emu.dream_machine_url, "LUMA_AGENTS_BASE_URL": emu.agents_url}
    with pytest.raises(MissingCredentials, match="LUMAAI_API_KEY"):
        await LumaProvider(adapter_settings(tmp_path, **base)).submit(make_spec("luma", "ray-2"), model_entry("luma", "ray-2"))
    assert emu.requests == []
    wrong = LumaProvider(adapter_settings(tmp_path, LUMAAI_API_KEY="nope", **base))
    with pytest.raises(AuthFailed, match="LUMAAI_API_KEY"):
        await wrong.submit(make_spec("luma", "ray-2"), model_entry("luma", "ray-2"))


async def test_validation_errors_name_the_parameter(luma, emu):
    spec = make_spec("luma", "ray-3.2", aspect_ratio="9:21")  # Dream Machine allows it; the Agents API does not
    with pytest.raises(InvalidRequest, match="aspect_ratio: Input should be one of") as info:
        await luma.submit(spec, model_entry("luma", "ray-3.2"))
    assert info.value.param == "aspect_ratio"


async def test_insufficient_credits(luma, emu):
    emu.credit_balance = 0
    with pytest.raises(InsufficientCredits):
        await luma.submit(make_spec("luma", "ray-2"), model_entry("luma", "ray-2"))


@pytest.mark.parametrize("fault", [{"status": 504}, {"drop": True, "process": True}, {"malformed": True}])
async def test_lost_create_answers_are_outcome_unknown(luma, emu, fault):
    emu.inject("create", **fault)
    with pytest.raises(OutcomeUnknown):
        await luma.submit(make_spec("luma", "ray-2"), model_entry("luma", "ray-2"))
    assert emu.count("create") == 1


async def test_reads_ride_out_faults_and_expired_links_refresh(luma, emu, tmp_path):
    model = model_entry("luma", "ray-3.2")
    remote_id = await luma.submit(make_spec("luma", "ray-3.2"), model)
    emu.inject("poll", status=429, retry_after_ms=10)
    emu.inject("poll", status=500)
    emu.inject("poll", malformed=True)
    final = (await poll_to_end(luma, remote_id, model))[-1]
    assert final.state is RemoteState.SUCCEEDED
    emu.expire_outputs()
    await luma.download(final, model, tmp_path / "out.mp4")
    assert emu.count("download") == 2 and probe(tmp_path / "out.mp4")["frames"] == 120


def test_catalog_entries():
    ray2 = model_entry("luma", "ray-2")
    assert ray2.capabilities.extend == "native" and ray2.capabilities.loop == "native"
    assert ray2.price.unit == "per_megapixel_frame" and ray2.price.estimate
    # 720p 5 s at $0.0064/Mpx matches the $0.71 the source lists.
    assert ray2.price.usd * 1280 * 720 / 1e6 * 120 == pytest.approx(0.71, abs=0.01)
    assert model_entry("luma", "ray-3.2").price.by_resolution["1080p"] == 1.20


async def test_agents_api_key_is_its_own_variable(emu, tmp_path, settings):
    base = {"LUMAAI_BASE_URL": emu.dream_machine_url, "LUMA_AGENTS_BASE_URL": emu.agents_url}
    model = model_entry("luma", "ray-3.2")
    with pytest.raises(MissingCredentials, match="LUMA_AGENTS_API_KEY"):
        await LumaProvider(adapter_settings(tmp_path, **base)).submit(make_spec("luma", "ray-3.2"), model)
    own_key = LumaProvider(adapter_settings(tmp_path, LUMAAI_API_KEY="dream-machine-only", LUMA_AGENTS_API_KEY=emu.api_key, **base))
    await own_key.submit(make_spec("luma", "ray-3.2"), model)
    assert emu.requests_to("create")[-1].headers["authorization"] == f"Bearer {emu.api_key}"


async def test_an_unknown_generation_state_reads_as_running_not_failed(luma, emu):
    """The shared unknown-state rule (providers/base.py): an undocumented state word is not a failure (the
    generation may still be running and billing); it reads as RUNNING with the raw word shown."""
    model = model_entry("luma", "ray-2")
    remote_id = await luma.submit(make_spec("luma", "ray-2"), model)
    emu.inject("poll", status=200, body={"id": remote_id, "state": "upscaling"})
    status = await luma.poll(remote_id, model)
    assert status.state is RemoteState.RUNNING and status.raw_status == "upscaling" and status.error is None
    assert (await poll_to_end(luma, remote_id, model))[-1].state is RemoteState.SUCCEEDED
