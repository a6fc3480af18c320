"""`reelforge jobs wait | cancel` across processes: one console script drives a job (held running by a
provider emulator), others wait on it with a timeout (exit 4) and cancel it (the driver stops it
and exits 5). Real processes on one ledger, as a script beside a server would use them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from cli_utils import as_json, cli_env, one_error_line, reelforge, start

pytestmark = pytest.mark.slow


def _running_job(env: dict[str, str], cwd: Path, deadline_s: float = 60) -> dict:
    """The one job of this home once the provider has accepted it (it has a remote id and is running)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        jobs = as_json(reelforge(env, "jobs", "--json", cwd=cwd))
        if jobs and jobs[0]["status"] == "running":
            return jobs[0]
        time.sleep(0.3)
    raise AssertionError(f"no running job after {deadline_s} s: {jobs}")


def test_wait_times_out_then_cancel_stops_the_driving_process(tmp_path: Path) -> None:
    from emulators.minimax import API_KEY, MiniMaxEmulator

    with MiniMaxEmulator() as emu:
        emu.hold_jobs = True  # the provider keeps it running until canceled
        # A short lease: the driving process sees a cancel from elsewhere within a third of it.
        env = cli_env(tmp_path / "home", MINIMAX_API_KEY=API_KEY, MINIMAX_API_HOST=emu.url,
                      REELFORGE_ALLOW_PRIVATE_URLS="true", REELFORGE_JOB_LEASE_S="1.5")
        driver = start(env, "generate", "a fox in snow", "--provider", "minimax", "--json", cwd=tmp_path)
        try:
            job = _running_job(env, tmp_path)
            began = time.monotonic()
            waited = reelforge(env, "jobs", "wait", job["job_id"], "--timeout", "1", "--json", cwd=tmp_path)
            assert waited.returncode == 4, (waited.returncode, waited.stderr)
            assert as_json(waited)["status"] == "running" and time.monotonic() - began < 30
            text = reelforge(env, "jobs", "wait", job["job_id"], "--timeout", "0.5", cwd=tmp_path)
            line = one_error_line(text.stderr)
            assert text.returncode == 4 and "still running after 0.5 s" in line and "no live process" not in line

            canceled = reelforge(env, "jobs", "cancel", job["job_id"], "--json", cwd=tmp_path)
            assert canceled.returncode == 0, canceled.stderr
            assert as_json(canceled)["status"] == "canceled"
            out, err = driver.communicate(timeout=60)
        finally:
            if driver.poll() is None:
                driver.kill()
        assert driver.returncode == 5, (driver.returncode, err)
        assert json.loads(out)["status"] == "canceled" and "Traceback" not in err
        assert emu.count("create") == 1

    after = reelforge(env, "jobs", "wait", job["job_id"], cwd=tmp_path)
    assert after.returncode == 5 and after.stdout.startswith(f"canceled {job['job_id']}: [canceled]"), after.stdout
    again = reelforge(env, "jobs", "cancel", job["job_id"], cwd=tmp_path)  # already canceled: still canceled
    assert again.returncode == 0, again.stderr


def test_a_wait_on_a_job_whose_driver_died_says_so(tmp_path: Path) -> None:
    from emulators.minimax import API_KEY, MiniMaxEmulator

    with MiniMaxEmulator() as emu:
        emu.hold_jobs = True
        env = cli_env(tmp_path / "home", MINIMAX_API_KEY=API_KEY, MINIMAX_API_HOST=emu.url,
                      REELFORGE_ALLOW_PRIVATE_URLS="true", REELFORGE_JOB_LEASE_S="1")
        driver = start(env, "generate", "a fox in snow", "--provider", "minimax", cwd=tmp_path)
        try:
            job = _running_job(env, tmp_path)
        finally:
            driver.kill()  # no clean hand-over: its lease lapses
            driver.wait(timeout=30)
        time.sleep(1.5)
        waited = reelforge(env, "jobs", "wait", job["job_id"], "--timeout", "0.3", cwd=tmp_path)
    assert waited.returncode == 4 and "no live process drives it" in one_error_line(waited.stderr), waited.stderr


def test_wait_cancel_and_recover_refuse_bad_ids(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "home")
    made = as_json(reelforge(env, "generate", "a kite", "--provider", "preview", "--duration", "1", "--resolution",
                             "480p", "--json", cwd=tmp_path))
    done = reelforge(env, "jobs", "wait", made["job_id"], "--json", cwd=tmp_path)
    assert done.returncode == 0 and as_json(done)["output"]["path"] == made["output"]["path"]
    ended = reelforge(env, "jobs", "cancel", made["job_id"], cwd=tmp_path)
    assert ended.returncode == 1 and "already ended succeeded" in one_error_line(ended.stderr)
    for argv, says in ((["wait"], "needs a job id"), (["wait", "job_0123456789abcdef"], "[job_not_found]"),
                       (["cancel", "job_0123456789abcdef"], "[job_not_found]"),
                       (["recover", made["job_id"]], "only a generation whose create answer was lost")):
        refused = reelforge(env, "jobs", *argv, cwd=tmp_path)
        assert refused.returncode == 2 and refused.stdout == "", (argv, refused.stdout, refused.stderr)
        assert says in one_error_line(refused.stderr), refused.stderr
    nothing = reelforge(env, "jobs", "recover", "--json", cwd=tmp_path)
    assert nothing.returncode == 0 and as_json(nothing) == []
