"""Routing policies, measured speed, safe fallback and provider health, through the MCP tools against
the Runway and Luma emulators (different prices; latencies made different by the emulators).

- The same request goes to a different model under `cheapest`, `fastest` and `best`, each the first of
  `estimate_cost(compare=true)`'s ranking under that policy, and the job says why.
- `fastest` uses the ledger's measured p50 once a model has 3 finished jobs: a model that is typically
  fast but measured slow loses to one measured fast.
- A provider that refuses the create (auth, rate limit) falls back to the next plan, charged once; an
  ambiguous create (a 5xx, a dropped answer) never does: it ends `unknown` and nothing else is sent.
- A provider whose last 3 jobs failed on its side is skipped by 'auto' for the cool-down, and says so.
"""

from __future__ import annotations

import anyio
import pytest
from client_utils import make_client, settle, start_job
from provider_utils import keyed_for_runway_and_luma, needs_providers, runway_and_luma  # noqa: F401 (the `emus` fixture)

from reelforge.media.probe import probe
from reelforge.settings import Settings

pytestmark = needs_providers("runway", "luma")


@pytest.fixture
def keyed(settings: Settings, emus) -> Settings:
    return keyed_for_runway_and_luma(settings, emus, poll_s=(0.05, 0.1))


async def _ranked(client, route: str) -> dict:
    result = await client.call_tool("estimate_cost", {"request": {"prompt": "a kite", "route": route}, "compare": True})
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def _routed(client, route: str, **extra) -> dict:
    job = await settle(client, await start_job(client, "generate_video", {"prompt": "a kite", "route": route, **extra}))
    assert job["status"] == "succeeded", (job["provider"], job["model"], job["error"], job["notes"])
    return job


async def _measure(client, emus) -> None:
    """Three finished jobs each on a model that is cheap but slow today and one that is quick."""
    runway, luma = emus
    luma.steps, runway.steps = 25, 1  # Luma's queue is slow today, Runway's quick
    jobs = [await start_job(client, "generate_video", {"prompt": f"take {i}", "provider": p, "model": m})
            for i in range(3) for p, m in (("luma", "ray-flash-2"), ("runway", "veo3.1_fast"))]
    with anyio.fail_after(60):
        done = [await settle(client, job_id) for job_id in jobs]
    assert all(j["status"] == "succeeded" for j in done)


async def test_fastest_follows_the_measured_p50(keyed, emus) -> None:
    async with make_client(keyed) as client:
        before = await _ranked(client, "fastest")
        typical = [r for r in before["ranking"] if not r["model"].startswith("preview/")][0]
        assert typical["model"] == "luma/ray-flash-2" and not typical["measured"]  # by the catalog, then price
        await _measure(client, emus)
        after = await _ranked(client, "fastest")
    real = [r for r in after["ranking"] if not r["model"].startswith("preview/")]
    assert real[0]["model"] == "runway/veo3.1_fast" and real[0]["measured"], real[:3]
    slow = next(r for r in real if r["model"] == "luma/ray-flash-2")
    assert slow["measured"] and slow["expected_s"] > real[0]["expected_s"]


async def test_each_policy_picks_differently_and_says_why(keyed, emus) -> None:
    async with make_client(keyed) as client:
        await _measure(client, emus)
        chosen, notes = {}, {}
        for route in ("cheapest", "fastest", "best"):
            ranking = await _ranked(client, route)
            real = [r for r in ranking["ranking"] if not r["model"].startswith("preview/")]  # never routed to
            job = await _routed(client, route)
            chosen[route], notes[route] = f"{job['provider']}/{job['model']}", " ".join(job["notes"])
            assert chosen[route] == real[0]["model"], (route, real[:3])
            assert f"Chosen by route={route}: {chosen[route]}" in notes[route], notes[route]
            assert probe(job["output"]["path"]).frames > 0
        cheapest = await _ranked(client, "cheapest")
    assert chosen == {"cheapest": "luma/ray-flash-2", "fastest": "runway/veo3.1_fast", "best": "runway/gen4.5"}
    assert "measured p50" in notes["fastest"] and "quality tier 5" in notes["best"]
    prices = [r["usd"] for r in cheapest["ranking"] if not r["model"].startswith("preview/")]
    assert prices == sorted(prices)
    reasons = {e["model"]: e["reason"] for e in cheapest["excluded"]}
    assert "accepts: image" in reasons["runway/gen4_turbo"]  # image-only model, text request: said why


@pytest.mark.parametrize("fault,code", [({"status": 401}, "auth_failed"), ({"status": 429, "retry_after": 90}, "rate_limited")])
async def test_a_refused_create_falls_back_once_and_is_charged_once(keyed, emus, fault, code) -> None:
    runway, luma = emus
    runway.inject("create", **fault)
    async with make_client(keyed) as client:
        started = await client.call_tool("generate_video", {"request": {
            "prompt": "a kite", "provider": "runway", "model": "gen4.5", "fallback": ["luma/ray-2"], "wait_seconds": 0}})
        assert not started.is_error, started.content[0].text
        job = await settle(client, started.structured_content["job_id"])
    assert job["status"] == "succeeded", job
    assert (job["provider"], job["model"]) == ("luma", "ray-2")
    assert runway.count("create") == 1 and luma.count("create") == 1
    said = " ".join(job["notes"])
    assert f"runway/gen4.5 refused the job before accepting it ({code}" in said and "nothing was charged" in said
    assert job["cost_usd"] == job["quote_usd"]  # Luma's price only: the refused attempt cost nothing
    assert "Fallback, only if runway/gen4.5 refuses" in said  # said when the job was planned


@pytest.mark.parametrize("fault", [{"status": 500}, {"drop": True, "process": True}], ids=["5xx", "dropped"])
async def test_an_ambiguous_create_never_falls_back(keyed, emus, fault) -> None:
    runway, luma = emus
    runway.inject("create", **fault)
    async with make_client(keyed) as client:
        job = await settle(client, await start_job(client, "generate_video", {
            "prompt": "a kite", "provider": "runway", "model": "gen4.5", "fallback": ["luma/ray-2"]}))
    assert job["status"] == "unknown", job
    assert runway.count("create") == 1 and luma.count("create") == 0  # maybe billed once; never twice


async def test_a_fallback_that_cannot_run_is_refused_before_anything_is_sent(keyed, emus) -> None:
    runway, luma = emus
    async with make_client(keyed) as client:
        result = await client.call_tool("generate_video", {"request": {
            "prompt": "a kite", "provider": "runway", "model": "gen4.5", "fallback": ["minimax"]}})
    assert result.is_error and "fallback[0] 'minimax'" in result.content[0].text, result.content[0].text
    assert runway.requests == [] and luma.requests == []


async def test_fallback_true_takes_the_routes_next_provider(keyed, emus) -> None:
    runway, luma = emus
    runway.inject("create", status=401)
    async with make_client(keyed) as client:
        job = await settle(client, await start_job(client, "generate_video", {
            "prompt": "a kite", "route": "best", "fallback": True}))
    assert job["status"] == "succeeded", job
    assert job["provider"] == "luma" and runway.count("create") == 1


async def test_a_failing_provider_cools_down_and_auto_says_so(keyed, emus) -> None:
    runway, luma = emus
    runway.fail_next = ("INTERNAL", "the render farm is down")  # accepted, then failed at the provider
    keyed = keyed.model_copy(update={"health_cooldown_s": 300})
    async with make_client(keyed) as client:
        for i in range(3):
            runway.fail_next = ("INTERNAL", "the render farm is down")
            failed = await settle(client, await start_job(client, "generate_video", {
                "prompt": f"try {i}", "provider": "runway", "model": "gen4.5"}))
            assert failed["status"] == "failed", failed
        job = await _routed(client, "best")
        plain = await _routed(client, "preference")  # the declared order skips it too
        health = await client.read_resource("reelforge://health")
        listed = await client.call_tool("list_models", {"provider": "runway"})
    assert job["provider"] == "luma", job  # Runway skipped while it cools down
    import json

    data = json.loads(health.contents[0].text)
    runway_row = data["providers"]["runway"]
    assert runway_row["failed"] == 3 and runway_row["cooling_down_until"] is not None
    assert runway_row["models"][0]["failures"] == {"provider_failed": 3}
    gen45 = next(m for m in listed.structured_content["models"] if m["model"] == "gen4.5")
    assert gen45["health"]["success_rate"] == 0.0 and gen45["health"]["finished"] == 3 and gen45["quality"] == 5
    assert "'auto' skipped runway" in " ".join(job["notes"]), job["notes"]
    assert plain["provider"] == "luma" and "'auto' skipped runway" in " ".join(plain["notes"]), plain["notes"]
