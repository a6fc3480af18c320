"""Fallback after the provider accepted the job: only on a terminal FAILED the provider documents as not
charged (the catalog's `failed_not_charged`), through the MCP tools against the Runway and Luma emulators.

Runway documents output moderation and internal failures as refunded and input moderation as not (its
emulator reports the refunded credits the same way); Luma documents nothing about failed generations.

- Runway accepts, then fails with a refunded code: the job moves on to Luma, records the Runway
  attempt (remote id, cost 0, code, why) and costs Luma's price only.
- Runway fails with input moderation (charged), or reports a cost for the failure: no fallback.
- Luma accepts, then fails: no fallback (it says nothing about charges); the job fails with its message.
- An ambiguous create (`unknown`) never moves on, even when the task it started failed refundably.
"""

from __future__ import annotations

import pytest
from client_utils import make_client, settle, start_job
from provider_utils import keyed_for_runway_and_luma, needs_providers, runway_and_luma  # noqa: F401 (the `emus` fixture)

from reelforge.jobs.store import JobStore
from reelforge.media.probe import probe
from reelforge.settings import Settings

pytestmark = needs_providers("runway", "luma")
RUNWAY_FIRST = {"prompt": "a kite", "provider": "runway", "model": "gen4.5", "duration_s": 5, "fallback": ["luma/ray-2"]}


@pytest.fixture
def keyed(settings: Settings, emus) -> Settings:
    return keyed_for_runway_and_luma(settings, emus, poll_s=(0.02, 0.05))


async def _run(settings: Settings, request: dict) -> dict:
    async with make_client(settings) as client:
        return await settle(client, await start_job(client, "generate_video", request))


def _row(settings: Settings, job_id: str):
    store = JobStore.open(settings)
    try:
        return store.require(job_id)
    finally:
        store.close()


@pytest.mark.parametrize("code", ["INTERNAL.BAD_OUTPUT.CODE01", "SAFETY.OUTPUT.VIDEO"])
async def test_a_failure_documented_as_not_charged_falls_back_and_records_both_attempts(keyed, emus, code) -> None:
    runway, luma = emus
    runway.fail_next = (code, "the output was rejected")
    job = await _run(keyed, RUNWAY_FIRST)
    assert job["status"] == "succeeded", job
    assert (job["provider"], job["model"]) == ("luma", "ray-2")
    assert runway.count("create") == 1 and luma.count("create") == 1
    assert probe(job["output"]["path"]).frames > 0
    (runway_task,) = runway.jobs.values()
    assert runway.task_json(runway_task)["status"] == "FAILED" and runway.task_json(runway_task)["cost"] == {"credits": 0}
    row = _row(keyed, job["job_id"])
    (attempt,) = row.state["attempts"]
    assert attempt["provider"] == "runway" and attempt["model"] == "gen4.5" and attempt["remote_id"] == runway_task.id
    assert attempt["cost_usd"] == 0.0 and attempt["moved_on"] == "failed, not charged"
    assert "the output was rejected" in attempt["message"] and attempt["error_code"] in ("provider_failed", "moderation")
    assert row.remote_id == next(iter(luma.jobs))  # the job now points at the attempt that ran
    said = " ".join(job["notes"])
    assert f"runway/gen4.5 accepted the job (remote id {runway_task.id}) and then failed; Runway documents {code}" in said
    assert "nothing was charged. Falling back to luma/ray-2" in said
    assert "or fails in a way Runway documents as not charged" in said  # said when it was planned
    assert job["cost_usd"] == pytest.approx(job["quote_usd"])  # Luma's price only: one budget, one charge


async def test_a_failure_the_provider_charges_for_never_falls_back(keyed, emus) -> None:
    runway, luma = emus
    runway.fail_next = ("SAFETY.INPUT.TEXT", "the prompt was flagged")  # not refundable at Runway
    job = await _run(keyed, RUNWAY_FIRST)
    assert job["status"] == "failed", job
    assert "the prompt was flagged" in job["error"]["message"] and job["provider"] == "runway"
    assert runway.count("create") == 1 and luma.count("create") == 0
    assert not _row(keyed, job["job_id"]).state.get("attempts")


async def test_a_failure_with_a_reported_cost_never_falls_back(keyed, emus) -> None:
    runway, luma = emus
    plain = runway.task_json
    # This one failure comes back billed: the provider's word on the job wins over its documentation.
    runway.task_json = lambda job: {**plain(job), "cost": {"credits": 60}} if job.failure else plain(job)
    runway.fail_next = ("INTERNAL", "the render farm is down")
    job = await _run(keyed, RUNWAY_FIRST)
    assert job["status"] == "failed" and "the render farm is down" in job["error"]["message"], job
    assert luma.count("create") == 0


async def test_a_provider_that_documents_no_refund_never_falls_back_once_it_accepted(keyed, emus) -> None:
    runway, luma = emus
    luma.fail_next = ("failed", "the generation failed")
    job = await _run(keyed, {"prompt": "a kite", "provider": "luma", "model": "ray-2", "fallback": ["runway/gen4.5"]})
    assert job["status"] == "failed", job
    assert job["provider"] == "luma" and "the generation failed" in job["error"]["message"]
    assert luma.count("create") == 1 and runway.count("create") == 0
    assert "fails in a way" not in " ".join(job["notes"])  # the plan never promised a fallback after acceptance


async def test_an_unknown_create_never_falls_back_even_when_its_task_failed_unbilled(keyed, emus) -> None:
    runway, luma = emus
    runway.fail_next = ("INTERNAL", "the render farm is down")
    runway.inject("create", drop=True, process=True)  # Runway made (and failed) the task; its answer was lost
    job = await _run(keyed, RUNWAY_FIRST)
    assert job["status"] == "unknown", job
    assert runway.count("create") == 1 and luma.count("create") == 0


def test_the_runway_row_covers_what_its_documentation_says_and_nothing_else() -> None:
    from reelforge.providers.registry import load_catalog

    rows = {name: entry.failed_not_charged for name, entry in load_catalog().providers.items()}
    rule = rows["runway"]
    assert rule is not None and "SAFETY.INPUT" in rule.source and rule.as_of.year == 2026
    assert [rule.covers(c) for c in ("INTERNAL", "INTERNAL.BAD_OUTPUT.CODE01", "SAFETY.OUTPUT.VIDEO")] == [True] * 3
    # Charged, not said, no code at all, or a name that only starts like a covered one: never.
    assert [rule.covers(c) for c in ("SAFETY.INPUT.TEXT", "ASSET.INVALID", None, "", "INTERNALS")] == [False] * 5
    assert rows["luma"] is None  # Luma says nothing about failed generations
