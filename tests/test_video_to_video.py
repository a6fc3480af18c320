"""Video-to-video through generate_video's `video` input (Runway aleph2 against its emulator)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from provider_utils import needs_providers
from emulators.runway import RunwayEmulator
from media_utils import make_clip
from pydantic import SecretStr

from reelforge.media.probe import probe
from client_utils import make_client


@pytest.fixture
def emu() -> Iterator[RunwayEmulator]:
    with RunwayEmulator() as emulator:
        yield emulator


@needs_providers("runway")
async def test_aleph2_restyles_a_local_video(emu, settings, tmp_path) -> None:
    rw = settings.with_provider_env(RUNWAYML_API_SECRET=emu.api_key, RUNWAYML_BASE_URL=emu.url).model_copy(
        update={"confirm_above_usd": 100.0})
    source = make_clip(tmp_path / "source.mp4", 1.0, (160, 90), 24)
    async with make_client(rw) as client:
        result = await client.call_tool("generate_video", {"request": {
            "provider": "runway", "model": "aleph2", "prompt": "make it snow", "video": str(source),
            "wait_seconds": 60}})
        assert not result.is_error, result.content[0].text
        job = result.structured_content
        if job["status"] != "succeeded":
            job = (await client.call_tool("get_job", {"job_id": job["job_id"], "wait_seconds": 60})).structured_content
    assert job["status"] == "succeeded", job
    assert probe(job["output"]["path"]).codec == "h264"
    body = emu.requests_to("create")[0].json
    assert emu.count("create") == 1 and body["model"] == "aleph2" and body["videoUri"].startswith("data:video/mp4")


async def test_video_input_refused_by_a_text_model(settings, tmp_path) -> None:
    source = make_clip(tmp_path / "source.mp4", 1.0, (160, 90), 24)
    async with make_client(settings) as client:
        result = await client.call_tool("generate_video", {"request": {
            "provider": "preview", "prompt": "x", "video": str(source)}})
    assert result.is_error and "video" in result.content[0].text and "unsupported_parameter" in result.content[0].text
