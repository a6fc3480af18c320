"""The ledger: WAL, migrations once, idempotency, duplicates, spend; the studio's money checks."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from reelforge.errors import BudgetExceeded, ConfirmationRequired
from reelforge.jobs.migrations import MIGRATIONS
from reelforge.jobs.job import Job, JobStatus
from reelforge.jobs.store import JobStore
from reelforge.settings import Settings
from reelforge.studio.budget import check_budget
from reelforge.studio.operations import open_studio
from reelforge.studio.tool_schemas import CallOptions
from pg_utils import table_names


def test_migrations_run_once(ledger: Path | str) -> None:
    first = JobStore(ledger)
    assert first.applied_migrations == [m.__name__ for m in MIGRATIONS]
    first.close()
    second = JobStore(ledger)
    assert second.applied_migrations == []
    second.close()


def test_wal_and_migrations_run_once(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    first = JobStore(path)
    assert first.applied_migrations == [m.__name__ for m in MIGRATIONS]
    first.close()
    second = JobStore(path)
    assert second.applied_migrations == []
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    second.close()


def test_row_round_trip_and_terminal_timestamp(ledger: Path | str) -> None:
    store = JobStore(ledger)
    job = store.insert(Job(kind="generate", request={"prompt": "x"}, provider="preview", quote_usd=0.0))
    got = store.require(job.id)
    assert got.request == {"prompt": "x"} and got.status is JobStatus.QUEUED
    done = store.update(job.id, status=JobStatus.SUCCEEDED, outputs={"path": "/a.mp4"})
    assert done.finished_at is not None and done.outputs == {"path": "/a.mp4"}
    assert [j.id for j in store.unfinished()] == []


def test_idempotency_key_conflict_returns_first(ledger: Path | str) -> None:
    store = JobStore(ledger)
    a = store.insert(Job(kind="generate", idempotency_key="k1"))
    b = store.insert(Job(kind="generate", idempotency_key="k1"))
    assert a.id == b.id
    assert len(store.list()) == 1


def test_spend_counts_live_quotes_and_actual_costs(ledger: Path | str) -> None:
    store = JobStore(ledger)
    store.insert(Job(kind="generate", quote_usd=1.0))  # running: its quote is committed money
    done = store.insert(Job(kind="generate", quote_usd=1.0))
    store.update(done.id, status=JobStatus.SUCCEEDED, cost_usd=0.5)
    failed = store.insert(Job(kind="generate", quote_usd=3.0))
    store.update(failed.id, status=JobStatus.FAILED)  # never reached the provider
    billed = store.insert(Job(kind="generate", quote_usd=2.0, remote_id="r1"))
    store.update(billed.id, status=JobStatus.FAILED)  # failed after the provider took it: assume billed
    assert store.spent_since(time.time() - 60) == pytest.approx(3.5)


def test_spend_counts_derived_jobs_once(ledger: Path | str) -> None:
    store = JobStore(ledger)
    parent = store.insert(Job(kind="extend", quote_usd=1.2))
    assert store.spent_since(time.time() - 60) == pytest.approx(1.2)  # step not created yet
    child = store.insert(Job(kind="generate", quote_usd=1.2, parents=[parent.id]))
    store.merge_state(parent.id, child_id=child.id)
    store.update(parent.id, cost_usd=1.2)
    assert store.spent_since(time.time() - 60) == pytest.approx(1.2)  # counted on the step only


def test_budget_and_confirmation(tmp_path: Path) -> None:
    studio = open_studio(Settings(home=tmp_path, max_cost_per_call_usd=2.0, max_cost_per_day_usd=3.0, confirm_above_usd=0.5))
    check_budget(studio, 0.4, CallOptions(), "cheap")
    with pytest.raises(ConfirmationRequired, match="confirm=true"):
        check_budget(studio, 1.0, CallOptions(), "mid")
    check_budget(studio, 1.0, CallOptions(confirm=True), "mid")
    with pytest.raises(BudgetExceeded, match="per-call limit"):
        check_budget(studio, 2.5, CallOptions(confirm=True), "big")
    studio.store.insert(Job(kind="generate", quote_usd=2.5))
    with pytest.raises(BudgetExceeded, match="daily limit"):
        check_budget(studio, 1.0, CallOptions(confirm=True), "more")
    studio.store.close()


def test_a_failed_migration_rolls_back(ledger: Path | str, monkeypatch) -> None:
    from reelforge.jobs import migrations

    def m999_broken(db) -> None:
        db.execute("CREATE TABLE half_done (x INTEGER)")
        raise RuntimeError("boom")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, m999_broken])
    with pytest.raises(RuntimeError):
        JobStore(ledger)
    tables = table_names(ledger)
    assert "half_done" not in tables and "jobs" in tables  # m001 committed, m999 rolled back
    monkeypatch.undo()
    assert JobStore(ledger).applied_migrations == [], "the good migrations were recorded before the failure"


def test_receipts_hold_no_signed_url_secrets() -> None:
    from reelforge.studio.artifacts import _without_url_secrets

    request = {"first_frame": {"url": "https://cdn.example.com/a.png?X-Amz-Signature=abc#frag"}, "prompt": "p?"}
    cleaned = _without_url_secrets(request)
    assert "abc" not in str(cleaned) and cleaned["first_frame"]["url"].startswith("https://cdn.example.com/a.png")
    assert cleaned["prompt"] == "p?"


def test_a_provider_status_text_in_the_stage_is_redacted_before_the_ledger(tmp_path: Path) -> None:
    """The stage can quote a provider's own words; a token there must not reach the ledger file."""
    path = tmp_path / "l.db"
    store = JobStore(path)
    job = store.insert(Job(kind="generate", request={"prompt": "x"}, provider="preview", quote_usd=0.0))
    store.update(job.id, stage="provider says: Authorization: Bearer key_SECRET123456789 rejected")
    assert "SECRET123" not in (store.require(job.id).stage or "")
    store.close()
    assert b"SECRET123" not in b"".join(p.read_bytes() for p in tmp_path.iterdir())
