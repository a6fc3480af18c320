"""Luma's official SDKs against the emulator: `lumaai` (Dream Machine) and `luma-agents` (ray-3.2).

The emulator is held to Luma's own clients, not only to our adapter.
"""

from __future__ import annotations

import base64

import httpx
import pytest
from provider_utils import require_provider

require_provider("luma")  # the rest of this module needs its package
from adapter_helpers import sdk_until
from emulators.luma import LumaEmulator
from media_utils import make_image

lumaai = pytest.importorskip("lumaai")


@pytest.fixture
def emu():
    with LumaEmulator() as emulator:
        emulator.steps = 2
        yield emulator


@pytest.fixture
def sdk(emu):
    with lumaai.LumaAI(auth_token=emu.api_key, base_url=emu.dream_machine_url, max_retries=2) as client:
        yield client


def finish(sdk, generation_id: str):
    return sdk_until(sdk.generations.get, generation_id, ("completed", "failed"), attr="state")


def test_create_poll_and_fetch(sdk, emu):
    created = sdk.generations.create(model="ray-2", prompt="a paper boat", aspect_ratio="9:16", duration="5s", resolution="540p")
    assert created.state == "queued" and created.request.model == "ray-2"
    done = finish(sdk, created.id)
    assert done.state == "completed" and done.assets.video
    video = httpx.get(done.assets.video)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert emu.requests_to("create")[0].path == "/dream-machine/v1/generations/video"


@pytest.mark.slow
def test_keyframes_extend_loop_and_concepts(sdk, emu):
    first = finish(sdk, sdk.generations.create(model="ray-flash-2", prompt="waves").id)
    extended = sdk.generations.create(
        model="ray-2", prompt="waves continue", loop=False, concepts=[{"key": "dolly_zoom"}],
        keyframes={"frame0": {"type": "generation", "id": first.id},
                   "frame1": {"type": "image", "url": "https://images.example.com/end.png"}},
    )  # fmt: skip
    done = finish(sdk, extended.id)
    assert done.state == "completed"
    assert done.request.keyframes.frame0.id == first.id and done.request.keyframes.frame1.url.endswith("end.png")
    looped = finish(sdk, sdk.generations.create(model="ray-2", prompt="spin", loop=True).id)
    assert looped.request.loop is True
    assert "dolly_zoom" in sdk.generations.concepts.list()


def test_failure_delete_and_errors(sdk, emu):
    emu.fail_next = ("", "Prompt blocked by moderation")
    failed = finish(sdk, sdk.generations.create(model="ray-2", prompt="x").id)
    assert failed.state == "failed" and "moderation" in failed.failure_reason

    pending = sdk.generations.create(model="ray-2", prompt="y")
    sdk.generations.delete(pending.id)
    with pytest.raises(lumaai.NotFoundError):
        sdk.generations.get(pending.id)
    with pytest.raises(lumaai.UnprocessableEntityError) as bad:
        sdk.generations.create(model="ray-2", prompt="z", duration="7s")
    assert bad.value.body["detail"][0]["loc"] == ["body", "duration"]
    with pytest.raises(lumaai.BadRequestError):
        sdk.generations.create(model="ray-2", keyframes={"frame0": {"type": "generation", "id": pending.id}})
    with lumaai.LumaAI(auth_token="wrong", base_url=emu.dream_machine_url, max_retries=0) as wrong:
        with pytest.raises(lumaai.AuthenticationError):
            wrong.generations.get(pending.id)
    assert sdk.credits.get().credit_balance > 0


def test_sdk_retries_429_and_5xx(sdk, emu):
    created = sdk.generations.create(model="ray-2", prompt="retry me")
    emu.inject("poll", status=429, retry_after_ms=10)
    emu.inject("poll", status=503, retry_after_ms=10)
    assert sdk.generations.get(created.id).state == "queued"
    assert emu.count("poll") == 3


# --- Agents API (luma-agents SDK) -------------------------------------------------------------------


@pytest.fixture
def agents(emu):
    luma_agents = pytest.importorskip("luma_agents")
    with luma_agents.Luma(auth_token=emu.api_key, base_url=emu.agents_url, max_retries=2) as client:
        yield client


def test_agents_video_with_inline_start_frame_then_extend(agents, emu, tmp_path):
    png = make_image(tmp_path / "s.png").read_bytes()
    created = agents.generations.create(
        model="ray-3.2", type="video", prompt="a lantern drifting", aspect_ratio="16:9",
        video={"duration": "5s", "resolution": "540p", "loop": True,
               "start_frame": {"data": base64.b64encode(png).decode(), "media_type": "image/png"}},
    )  # fmt: skip
    assert created.state == "queued" and created.type == "video"
    done = finish(agents, created.id)
    assert done.state == "completed" and done.output[0].type == "video"
    assert httpx.get(done.output[0].url).content[4:8] == b"ftyp"
    extended = agents.generations.create(
        model="ray-3.2", type="video", prompt="it drifts on", video={"start_frame": {"generation_id": done.id}}
    )
    assert finish(agents, extended.id).state == "completed"


def test_agents_failures_and_errors(agents, emu):
    luma_agents = pytest.importorskip("luma_agents")
    emu.fail_next = ("content_moderated", "Prompt rejected")
    failed = finish(agents, agents.generations.create(model="ray-3.2", type="video", prompt="x").id)
    assert failed.state == "failed" and failed.failure_code == "content_moderated"
    with pytest.raises(luma_agents.UnprocessableEntityError):
        agents.generations.create(model="ray-3.2", type="video", prompt="x", video={"duration": "7s"})
    with pytest.raises(luma_agents.BadRequestError):
        agents.generations.create(model="ray-3.2", type="video", prompt="x", video={"duration": "10s", "loop": True})
