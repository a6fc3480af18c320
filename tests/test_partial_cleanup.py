"""A killed server's temp files (`.partial-*`) never outlive the job (issue 8, item 9).

A resumed job that finishes keeps only its final files (tests/test_stdio_and_resume.py checks the
folder after a kill and a resume); here a killed job that is then abandoned (canceled from a
process that does not resume it) leaves no temp file in its folder either.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_takeover import RENDER, _kill, _rendering, _until, real_server

from reelforge.jobs.job import JobStatus
from reelforge.jobs.store import JobStore
from reelforge.settings import Settings
from reelforge.studio.artifacts import is_partial
from reelforge.studio.operations import open_studio


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if is_partial(p.name) or p.name.startswith("."))


def test_partial_names_cover_every_writer() -> None:
    for name in (".partial-k3j2.mp4", ".video.mp4.partial-123-0a1b2c3d", "receipt.json.partial",
                 ".partial-period-x.mp4", ".partial-title.png"):
        assert is_partial(name), name
    for name in ("video.mp4", "poster.jpg", "contact_sheet.jpg", "receipt.json", "timeline.otio", "partial.mp4"):
        assert not is_partial(name), name


@pytest.mark.slow
async def test_abandoned_job_folder_keeps_no_temp_files(tmp_path: Path, settings: Settings) -> None:
    home = tmp_path / "home"
    async with real_server(home, tmp_path, "server") as (client, pid):
        store = JobStore(home / "ledger.sqlite3")
        job_id = (await client.call_tool("generate_video", {"request": RENDER})).structured_content["job_id"]
        await _until(lambda: _rendering(store, home, job_id), 60, "mid-render")
        await _kill(pid)
    folder = home / "outputs" / job_id
    assert any(".partial-" in name for name in leftovers(folder)), "precondition: the kill left a temp file"
    # The command line (it never resumes other processes' jobs) cancels the orphan.
    cli = open_studio(Settings(home=home, allowed_input_roots=[tmp_path]), resume=False)
    try:
        job = await cli.cancel(job_id)
    finally:
        await cli.aclose()
    assert job.status is JobStatus.CANCELED
    assert leftovers(folder) == [], f"an abandoned job's folder kept {leftovers(folder)}"
    assert os.listdir(folder) == [], "nothing final was written, so nothing may remain"
    store.close()
