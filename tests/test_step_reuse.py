"""A step quoted as re-used (price $0) is used exactly, or the job fails saying so: it is never
quietly paid for again. Driven through the studio with the free preview provider."""

from __future__ import annotations

from pathlib import Path

import anyio

from reelforge.jobs.job import JobStatus
from reelforge.settings import Settings
from reelforge.studio import extend
from reelforge.studio.launch import launch
from reelforge.studio.operations import OPERATIONS, open_studio
from reelforge.studio.tool_schemas import ExtendRequest, GenerateRequest


async def _finish(studio, job_id: str):
    return await studio.wait(job_id, 60)


async def test_a_pinned_step_that_vanished_fails_instead_of_paying(settings: Settings, tmp_path: Path) -> None:
    studio = open_studio(settings, resume=False)
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(studio.runner.serve)
            source = await OPERATIONS["generate"].start(studio, GenerateRequest(prompt="a red kite", provider="preview",
                                                                                duration_s=1))
            source = await _finish(studio, source.id)
            assert source.status is JobStatus.SUCCEEDED, source.error_message
            request = ExtendRequest(source={"job_id": source.id}, provider="preview", prompt="the kite flies on")
            prepared = await anyio.to_thread.run_sync(extend.prepare, studio, request)
            prepared.request["step"]["reuse"] = "job_gone"  # as if the paid step was deleted after the quote
            prepared.quote_usd = 0.0
            job = await _finish(studio, launch(studio, prepared, request).id)
            tg.cancel_scope.cancel()
    finally:
        await studio.aclose()
    assert job.status is JobStatus.FAILED
    assert "job_gone" in (job.error_message or "") and "not paid for again" in (job.error_message or "")
    from reelforge.jobs.store import JobStore

    store = JobStore(settings.ledger)
    try:
        assert store.children(job.id) == [], "a step was generated although the quote promised a re-use"
    finally:
        store.close()
