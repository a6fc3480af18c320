"""Stability's video API is retired: a request for its model is answered by the same model on
Replicate, with a warning that names the swap (never silent), and refused clearly when the
replacement's key is missing."""

from __future__ import annotations

import pytest
from adapter_helpers import settle, start_job
from client_utils import make_client
from media_utils import make_image
from provider_utils import needs_providers

from reelforge.media.probe import probe

pytestmark = needs_providers("stability", "replicate")
SVD = {"provider": "stability", "model": "stable-video-diffusion"}


async def test_a_request_for_stability_is_redirected_to_replicate_with_a_warning(settings, tmp_path) -> None:
    from emulators.replicate import TOKEN, ReplicateEmulator

    image = make_image(tmp_path / "still.png", (1024, 576), "teal")
    with ReplicateEmulator() as emu:
        keyed = settings.with_provider_env(REPLICATE_API_TOKEN=TOKEN, REPLICATE_BASE_URL=emu.url)
        async with make_client(keyed) as client:
            quote = await client.call_tool("estimate_cost", {"request": {**SVD, "image": str(image)}})
            job = await settle(client, await start_job(client, "generate_video", {"provider": "stability",
                                                                                  "image": str(image)}))
    [q] = quote.structured_content["quotes"]
    assert (q["provider"], q["model"]) == ("replicate", "stable-video-diffusion")
    warning = "stability/stable-video-diffusion is retired"
    assert warning in q["breakdown"] and "replicate/stable-video-diffusion" in q["breakdown"], q["breakdown"]
    assert job["status"] == "succeeded", job
    assert any(warning in note for note in job["notes"]), job["notes"]
    assert probe(job["output"]["path"]).frames > 0 and emu.count("create") == 1


async def test_without_the_replacements_key_the_refusal_names_it(settings, tmp_path) -> None:
    image = make_image(tmp_path / "still.png", (1024, 576), "teal")
    async with make_client(settings) as client:
        result = await client.call_tool("generate_video", {"request": {**SVD, "image": str(image)}})
    assert result.is_error and "REPLICATE_API_TOKEN" in result.content[0].text, result.content[0].text


def test_the_retired_adapter_refuses_if_anything_reaches_it(settings) -> None:
    from reelforge.errors import ModelRetired
    from reelforge.providers.registry import load_catalog, make_provider

    model = load_catalog().find("stability", "stable-video-diffusion")
    assert model is not None and model.status == "retired"
    with pytest.raises(ModelRetired, match="retired on 2025-07-24"):
        make_provider("stability", settings).normalize(None, model)  # type: ignore[arg-type]
