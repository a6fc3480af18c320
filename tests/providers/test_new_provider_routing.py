"""A user whose only key is for Google or fal gets real video from `auto`, and `estimate_cost(compare=true)`
ranks the new providers' models beside the others; Sora (shut down by OpenAI) is never picked by `auto`."""

from __future__ import annotations

import pytest
from client_utils import make_client
from provider_utils import needs_providers

pytestmark = needs_providers("veo", "fal", "sora")


async def _auto_quote(settings) -> dict:
    async with make_client(settings) as client:
        result = await client.call_tool("estimate_cost", {"request": {"prompt": "a lighthouse at dusk", "duration_s": 8}})
    assert not result.is_error, result.content[0].text
    return result.structured_content["quotes"][0]


@pytest.mark.parametrize(("key", "provider"), [("GEMINI_API_KEY", "veo"), ("GOOGLE_API_KEY", "veo"), ("FAL_KEY", "fal")])
async def test_auto_picks_the_only_keyed_new_provider(settings, key, provider) -> None:
    quote = await _auto_quote(settings.with_provider_env(**{key: "k-test-123:secret"}))
    assert quote["provider"] == provider and quote["usd"] > 0


async def test_auto_never_sends_an_openai_key_holder_to_the_retired_sora_api(settings) -> None:
    quote = await _auto_quote(settings.with_provider_env(OPENAI_API_KEY="sk-test-123"))
    assert quote["provider"] == "preview"  # the free animatic, never a dead paid API


async def test_compare_ranks_the_new_models_with_the_rest(settings) -> None:
    keyed = settings.with_provider_env(GEMINI_API_KEY="g-test", FAL_KEY="id:secret", KLING_ACCESS_KEY="ak",
                                       KLING_SECRET_KEY="sk", RUNWAYML_API_SECRET="key_test")
    async with make_client(keyed) as client:
        result = await client.call_tool("estimate_cost", {"request": {"prompt": "a lighthouse", "duration_s": 5},
                                                          "compare": True})
    quotes = result.structured_content["quotes"]
    providers = {q["provider"] for q in quotes}
    assert {"veo", "fal", "kling", "runway"} <= providers, providers
    prices = [q["usd"] for q in quotes]
    assert prices == sorted(prices)  # cheapest first
