"""A batch's steps share one read of the batch's row.

The batch row lists every item, so at N=500 each step parsing its own copy held ~1 MB per step in
flight (a 500-item batch peaked near 900 MB; 314 MB after). Counted here as reads of the batch row made by the steps."""

from __future__ import annotations

import sys

import pytest
from client_utils import make_client, settle

from reelforge.jobs.store import JobStore
from reelforge.settings import Settings

pytestmark = pytest.mark.anyio


async def test_steps_of_a_batch_do_not_each_read_the_batch_row(settings: Settings, monkeypatch) -> None:
    reads: dict[str, int] = {}
    original = JobStore.require

    def counting(self: JobStore, job_id: str):
        caller = sys._getframe(1)
        if caller.f_code.co_name == "job":  # through JobContext.job: who asked for it?
            caller = caller.f_back
        if caller.f_code.co_name == "run_step":
            reads[job_id] = reads.get(job_id, 0) + 1
        return original(self, job_id)

    monkeypatch.setattr(JobStore, "require", counting)
    items = [{"prompt": f"card {i}", "provider": "preview", "duration_s": 1} for i in range(24)]
    async with make_client(settings) as client:
        made = await client.call_tool("generate_batch", {"request": {"items": items, "concurrency": 24, "wait_seconds": 0}})
        assert not made.is_error, made.content[0].text
        batch_id = made.structured_content["job_id"]
        job = await settle(client, batch_id)
    assert job["status"] == "succeeded" and job["batch"]["counts"].get("succeeded") == 24
    # The steps read the batch's row not at all (the batch hands its one read down), not once per item.
    assert reads.get(batch_id, 0) == 0, reads.get(batch_id)
