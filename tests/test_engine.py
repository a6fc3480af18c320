"""The durable engine in one process: a job is a DBOS workflow whose id is the job id, started once
however often it is submitted; the queue a job waits on; the settings that configure it, refused
clearly when wrong. (Several processes, kills and shared rate limits: `test_team.py`.)"""

from __future__ import annotations

import subprocess
import sys

import anyio
import pytest
from client_utils import settle, start_job
from dbos import DBOS

from reelforge.errors import InvalidRequest
from reelforge.jobs.engine import attempt_id, parse_queues, parse_rate_limits, queue_for


async def test_a_job_is_one_workflow_named_by_its_id(client) -> None:
    job_id = await start_job(client, "generate_video", {"prompt": "a kite over a beach", "provider": "preview",
                                                        "duration_s": 1, "idempotency_key": "kite-1"})
    done = await settle(client, job_id)
    assert done["status"] == "succeeded"
    with anyio.fail_after(10):  # the workflow records its step's end a moment after the row does
        while (workflow := (await DBOS.list_workflows_async(workflow_id_prefix=job_id))[0]).status == "PENDING":
            await anyio.sleep(0.05)
    assert (workflow.workflow_id, workflow.name, workflow.status) == (job_id, "reelforge.job", "SUCCESS")
    assert workflow.output == "succeeded" and workflow.app_version == "reelforge-engine-1"

    # The same call again re-attaches (no new job, no new workflow).
    again = await start_job(client, "generate_video", {"prompt": "a kite over a beach", "provider": "preview",
                                                       "duration_s": 1, "idempotency_key": "kite-1"})
    assert again == job_id
    assert len(await DBOS.list_workflows_async(workflow_id_prefix=job_id)) == 1


async def test_the_retention_sweep_deletes_finished_workflows_only(client) -> None:
    from reelforge.jobs.engine import _engine

    job_id = await start_job(client, "generate_video", {"prompt": "a lighthouse", "provider": "preview",
                                                        "duration_s": 1})
    assert (await settle(client, job_id))["status"] == "succeeded"
    with anyio.fail_after(10):
        while (await DBOS.list_workflows_async(workflow_id_prefix=job_id))[0].status == "PENDING":
            await anyio.sleep(0.05)
    assert _engine is not None
    await _engine.sweep(older_than_days=30)  # a month: nothing of this run is that old, so it stays
    assert len(await DBOS.list_workflows_async(workflow_id_prefix=job_id)) == 1
    await anyio.sleep(1.1)  # completion times are whole milliseconds apart from the cutoff
    assert await _engine.sweep(older_than_days=1 / 86400) >= 1
    assert await DBOS.list_workflows_async(workflow_id_prefix=job_id) == []


def test_each_job_waits_on_its_queue() -> None:
    limits = {"runway": (5, 60.0)}
    assert queue_for("generate", "local", limits) == "gpu"
    assert queue_for("generate", "preview", limits) == "media"
    assert queue_for("generate", "luma", limits) == "remote"
    assert queue_for("generate", "runway", limits) == "remote.runway"
    assert {queue_for(kind, "runway", limits) for kind in ("extend", "loop", "compose")} == {"media"}
    assert [attempt_id("job_1", n) for n in (1, 2)] == ["job_1", "job_1.2"]


def test_engine_settings_are_checked_with_the_fix() -> None:
    assert parse_rate_limits(" runway=5/60, luma=20, veo/veo-3.1-generate-001=40/60 ") == {
        "runway": (5, 60.0), "luma": (20, 60.0), "veo/veo-3.1-generate-001": (40, 60.0)}
    for bad in ("runway", "runway=0/60", "runway=five/60", "runway=5/-1"):
        with pytest.raises(InvalidRequest, match=r"provider\[/model\]=COUNT/SECONDS"):
            parse_rate_limits(bad)
    assert parse_queues("all") == parse_queues("") == {"gpu", "remote", "media"}
    assert parse_queues("none") == frozenset() and parse_queues("gpu, media") == {"gpu", "media"}
    with pytest.raises(InvalidRequest, match="Unknown queue"):
        parse_queues("gpus")


def test_a_worker_without_the_engine_says_why(tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "reelforge", "worker", "--queue", "gpu"], capture_output=True,
                         text=True, timeout=60, env={"REELFORGE_ENGINE": "none", "REELFORGE_HOME": str(tmp_path),
                                                      "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2 and "REELFORGE_ENGINE is not dbos" in out.stderr, out.stderr


def test_on_sqlite_a_transaction_holds_the_write_lock_from_its_first_read(tmp_path) -> None:
    """A queue's dequeue counts the rate limiter's window, then claims: on the SQLite engine file both
    must sit in one locked transaction, or two processes each count the same free slots (measured:
    37 starts in a window whose limit was 30). A second writer waits for a reader's transaction."""
    import sqlalchemy as sa

    from reelforge.jobs.engine import _sqlite_engine

    engine = _sqlite_engine(f"sqlite:///{tmp_path / 'engine.sqlite'}")
    with engine.begin() as setup:
        setup.exec_driver_sql("CREATE TABLE runs (n INTEGER)")
    with engine.connect() as reader:
        with reader.begin():
            assert reader.execute(sa.text("SELECT count(*) FROM runs")).scalar() == 0
            with engine.connect() as other:
                other.connection.dbapi_connection.execute("PRAGMA busy_timeout=0")  # fail at once, not in 30 s
                with pytest.raises(sa.exc.OperationalError, match="locked"), other.begin():
                    other.exec_driver_sql("INSERT INTO runs VALUES (1)")
    with engine.begin() as after:  # the lock is released with the reader's transaction
        after.exec_driver_sql("INSERT INTO runs VALUES (1)")
        assert after.execute(sa.text("SELECT count(*) FROM runs")).scalar() == 1
