"""The ledger: every job, committed before any provider call.

One SQLite file by default, or a PostgreSQL database shared by many processes when
`REELFORGE_DATABASE_URL` names one (`JobStore.open`); the engines differ only inside
`database.py` and `postgres.py`, so every method below means the same on both. Migrations run
once at open. Calls are short single-row statements, so they run inline on the event loop thread;
a lock keeps the one connection safe when a worker thread reports through the store.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reelforge.errors import IdempotencyConflict, JobNotFound, ReelforgeError
from reelforge.jobs.connect import connect
from reelforge.jobs.database import Database
from reelforge.jobs.migrations import migrate
from reelforge.jobs.job import TERMINAL, Job, JobStatus
from reelforge.redact import redact

if TYPE_CHECKING:
    from reelforge.settings import Settings

_JSON_FIELDS = ("request", "quote", "parents", "outputs", "state", "notes")
_COLUMNS = tuple(Job.model_fields)


class LeaseLost(ReelforgeError):
    """Another process drives this job now; the write was refused and the caller must stop."""

    code = "lease_lost"


def check_same_request(existing: Job, key: str, call_hash: str | None) -> None:
    """Refuse to re-attach a call to a job its idempotency key started for a different request."""
    if existing.call_hash is None or call_hash is None or existing.call_hash == call_hash:
        return  # the same request (rows from before call hashes: nothing to compare)
    raise IdempotencyConflict(
        f"idempotency_key '{key}' was already used for a different request: job {existing.id} "
        f"({existing.kind}, {existing.status.value}). No new job was started.",
        param="idempotency_key",
        hint=f"Use a new idempotency_key for a new request, or read reelforge://jobs/{existing.id} for the first one.",
    )


class JobStore:
    def __init__(self, target: Path | str | Database) -> None:
        """A ledger file (Path), a database URL (`postgresql://…`, `sqlite:///…`), or an open `Database`."""
        self._db = target if isinstance(target, Database) else connect(target)
        #: The ledger file on SQLite; None on a database server.
        self.path = self._db.path
        #: Where the ledger is, without any password (for messages and `reelforge doctor`).
        self.location = self._db.location
        self._lock = threading.RLock()
        try:
            with self._lock:
                self.applied_migrations = migrate(self._db)
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def open(cls, settings: Settings) -> JobStore:
        """The ledger the settings name: `database_url` when set, else the SQLite file `ledger`."""
        url = settings.database_url.get_secret_value().strip() if settings.database_url else ""
        return cls(url or settings.ledger)  # set but empty (`REELFORGE_DATABASE_URL=`) means unset

    @property
    def kind(self) -> str:
        """The engine: "sqlite" or "postgresql"."""
        return self._db.kind

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- rows <-> models -------------------------------------------------------------------
    @staticmethod
    def _to_row(job: Job) -> dict[str, Any]:
        data = job.model_dump(mode="json")
        for key in _JSON_FIELDS:
            data[key] = json.dumps(data[key]) if data[key] is not None else None
        return data

    @staticmethod
    def _from_row(row: Mapping[str, Any]) -> Job:
        data = dict(row)
        for key in _JSON_FIELDS:
            if data[key] is not None:
                data[key] = json.loads(data[key])
        return Job.model_validate(data)

    # -- writes -----------------------------------------------------------------------------
    def insert(self, job: Job) -> Job:
        """Commit a new job row; with an idempotency key already used, return that job instead.

        Only for the same request: a key that already names another request's job is refused
        (`IdempotencyConflict`), never silently answered with that other job.
        """
        row = self._to_row(job)
        cols = ", ".join(_COLUMNS)
        marks = ", ".join(f":{c}" for c in _COLUMNS)
        with self._lock:
            try:
                self._db.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", row)
            except self._db.integrity_error:
                if job.idempotency_key:
                    existing = self.find_by_idempotency_key(job.idempotency_key)
                    if existing is not None:
                        check_same_request(existing, job.idempotency_key, job.call_hash)
                        return existing
                raise
        return job

    def update(self, job_id: str, *, held_by: str | None = None, **fields: Any) -> Job:
        """Set fields on a job (JSON fields as Python values) and return the new row.

        With `held_by`, only while that runner holds the job's lease (a fencing check in the same
        statement): a process whose job was taken over cannot overwrite the new driver's row.
        """
        if not fields:
            return self.require(job_id)
        fields["updated_at"] = time.time()
        status = fields.get("status")
        if status is not None and JobStatus(status) in TERMINAL and "finished_at" not in fields:
            fields["finished_at"] = fields["updated_at"]
        if isinstance(fields.get("stage"), str):  # the stage can quote a provider's own status text
            fields["stage"] = redact(fields["stage"])
        for key in _JSON_FIELDS:
            if key in fields and fields[key] is not None:
                fields[key] = json.dumps(fields[key], default=str)
        for key, value in list(fields.items()):
            if isinstance(value, JobStatus):
                fields[key] = value.value
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        # Fenced: only while `held_by` holds the lease and the row has not ended (a cancel_job from
        # another process must not be undone by the driver's next progress write).
        ended = ", ".join(f"'{s.value}'" for s in TERMINAL)
        fence = "" if held_by is None else \
            f" AND (lease_owner = :_held_by OR lease_owner IS NULL) AND status NOT IN ({ended})"
        with self._lock:
            cur = self._db.execute(f"UPDATE jobs SET {sets} WHERE id = :_id{fence}",
                                   {**fields, "_id": job_id, "_held_by": held_by})
            if cur.rowcount == 0:
                self.require(job_id)  # JobNotFound when the row is gone
                raise LeaseLost(f"Job {job_id} is driven by another process now; this one stops.")
        return self.require(job_id)

    def merge_state(self, job_id: str, *, held_by: str | None = None, **values: Any) -> Job:
        job = self.require(job_id)
        return self.update(job_id, held_by=held_by, state={**job.state, **values})

    # -- reads ------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return self._from_row(row) if row else None

    def require(self, job_id: str) -> Job:
        job = self.get(job_id)
        if job is None:
            raise JobNotFound(
                f"No job with id '{job_id}'.", hint="Call list_jobs to see the ids of recent jobs."
            )
        return job

    def list(self, *, status: str | None = None, kind: str | None = None, limit: int = 50,
             user: str | None = None) -> list[Job]:
        sql, args = "SELECT * FROM jobs WHERE 1=1", []
        if user is not None:
            sql += " AND user_id = ?"
            args.append(user)
        if status:
            sql += " AND status = ?"
            args.append(status)
        if kind:
            sql += " AND kind = ?"
            args.append(kind)
        sql += " ORDER BY created_at DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [self._from_row(r) for r in rows]

    def children(self, job_id: str) -> list[Job]:
        """Jobs that name `job_id` as a parent (the steps of a derived job)."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs WHERE parents LIKE ?", (f'%"{job_id}"%',)).fetchall()
        return [j for j in (self._from_row(r) for r in rows) if job_id in j.parents]

    def steps(self, key: str, *, parent: str | None = None, status: str | None = None, limit: int = 200) -> list[Job]:
        """Generations made as step `key` (newest first), of `parent` when given: the rows a derived job
        looks its children up by. Filtered in SQL (the state names its step), so a batch of 500 items
        does not parse every child of the batch for each of them."""
        sql, args = "SELECT * FROM jobs WHERE kind = 'generate' AND state LIKE ?", [f'%"step_key": {json.dumps(key)}%']
        if parent is not None:
            sql += " AND parents LIKE ?"
            args.append(f'%"{parent}"%')
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        sql += " ORDER BY created_at DESC LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [j for j in map(self._from_row, rows)
                if j.state.get("step_key") == key and (parent is None or parent in j.parents)]

    def unfinished(self) -> list[Job]:
        marks = ", ".join("?" for _ in TERMINAL)
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM jobs WHERE status NOT IN ({marks}) ORDER BY created_at", [s.value for s in TERMINAL]
            ).fetchall()
        return [self._from_row(r) for r in rows]

    def find_by_idempotency_key(self, key: str) -> Job | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE idempotency_key = ?", (key,)).fetchone()
        return self._from_row(row) if row else None

    def find_recent_duplicate(self, request_hash: str, window_s: float) -> Job | None:
        """The newest job with the same normalised request within the window, unless it failed."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM jobs WHERE request_hash = ? AND created_at >= ? AND status NOT IN (?, ?) "
                "ORDER BY created_at DESC LIMIT 1",
                (request_hash, time.time() - window_s, JobStatus.FAILED.value, JobStatus.CANCELED.value),
            ).fetchone()
        return self._from_row(row) if row else None

    # -- leases (which process drives a job; see jobs/lease.py) ------------------------------------
    def claim(self, job_id: str, owner: str, until: float, *, take_from: str | None = None) -> bool:
        """Take an unfinished job's lease if it is free, lapsed, ours already, or `take_from`'s (an owner
        known to be dead). One conditional UPDATE: of two servers claiming at once, exactly one wins."""
        marks = ", ".join("?" for _ in TERMINAL)
        with self._lock:
            cur = self._db.execute(
                f"UPDATE jobs SET lease_owner = ?, lease_until = ? WHERE id = ? AND status NOT IN ({marks}) "
                "AND (lease_owner IS NULL OR lease_until IS NULL OR lease_until < ? OR lease_owner IN (?, ?))",
                [owner, until, job_id, *(s.value for s in TERMINAL), time.time(), owner, take_from or owner],
            )
        return cur.rowcount == 1

    def renew(self, owner: str, until: float, job_ids: list[str]) -> set[str]:
        """Extend `owner`'s leases on the unfinished jobs among `job_ids` (those it is driving; a row it
        holds but no longer drives is left to lapse); returns the ids it still holds."""
        if not job_ids:
            return set()
        terminal = [s.value for s in TERMINAL]
        where = (f"lease_owner = ? AND status NOT IN ({', '.join('?' for _ in terminal)}) "
                 f"AND id IN ({', '.join('?' for _ in job_ids)})")
        with self._lock:
            self._db.execute(f"UPDATE jobs SET lease_until = ? WHERE {where}", [until, owner, *terminal, *job_ids])
            rows = self._db.execute(f"SELECT id FROM jobs WHERE {where}", [owner, *terminal, *job_ids]).fetchall()
        return {r["id"] for r in rows}

    def release(self, owner: str) -> None:
        """Give up every lease `owner` holds (a clean shutdown: the next server need not wait for them)."""
        with self._lock:
            self._db.execute("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?", (owner,))

    def leases(self) -> list[tuple[str, str | None, float | None]]:
        """(id, lease owner, lease end) of every unfinished job, oldest first."""
        marks = ", ".join("?" for _ in TERMINAL)
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, lease_owner, lease_until FROM jobs WHERE status NOT IN ({marks}) ORDER BY created_at",
                [s.value for s in TERMINAL]).fetchall()
        return [(r["id"], r["lease_owner"], r["lease_until"]) for r in rows]

    def spent_since(self, since: float) -> float:
        """Money committed since a time, for the daily budget.

        Generation rows carry the money: the actual cost where known; otherwise the quote, unless the
        job failed or was canceled before any create request reached the provider (no remote id).
        A derived job (extend, loop, compose) adds only the part of its quote whose step jobs do not
        exist yet, so nothing is counted twice.
        """
        rows = self._rows_since(since, None)
        by_id = {r["id"]: r for r in rows}
        total = 0.0
        for r in rows:
            if r["kind"] == "generate":
                total += self._generation_spend(r)
                continue
            if r["status"] in (JobStatus.FAILED.value, JobStatus.CANCELED.value):
                continue
            steps = [v for v in json.loads(r["state"] or "{}").values() if isinstance(v, str) and v in by_id]
            covered = sum(by_id[c]["quote_usd"] or 0.0 for c in steps)
            total += max(0.0, (r["quote_usd"] or 0.0) - covered)
        return round(total, 6)

    def generation_outcomes(self, since: float) -> list[dict[str, Any]]:
        """Every finished generation since a time, newest first: provider, model, status, error
        code, created and finished times, and the attempts a fallback moved on from (in `state`)."""
        sql = ("SELECT provider, model, status, error_code, remote_id, created_at, finished_at, state FROM jobs "
               "WHERE kind = 'generate' AND created_at >= ? AND finished_at IS NOT NULL ORDER BY finished_at DESC")
        with self._lock:
            rows = self._db.execute(sql, [since]).fetchall()
        return [dict(r) for r in rows]

    def _rows_since(self, since: float, user: str | None) -> list[Any]:
        sql = "SELECT id, kind, status, quote_usd, cost_usd, remote_id, state, request FROM jobs WHERE created_at >= ?"
        args: list[Any] = [since]
        if user is not None:
            sql += " AND user_id = ?"
            args.append(user)
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def usage_since(self, since: float, *, user: str) -> dict[str, float]:
        """A user's generations, seconds of video and spend since a time, for their tier's daily
        allowance. A generation counts once it may have been billed (the same rule as the budget)."""
        generations = 0
        seconds = spend = 0.0
        for r in self._rows_since(since, user):
            if r["kind"] != "generate":
                continue
            billed = self._generation_spend(r)
            if billed == 0.0 and r["status"] in (JobStatus.FAILED.value, JobStatus.CANCELED.value):
                continue  # refused or stopped before the provider saw it
            generations += 1
            seconds += float(json.loads(r["request"] or "{}").get("duration_s") or 0.0)
            spend += billed
        return {"generations": generations, "video_seconds": round(seconds, 3), "spend_usd": round(spend, 6)}

    @staticmethod
    def _generation_spend(row: Mapping[str, Any]) -> float:
        if row["cost_usd"] is not None:
            return float(row["cost_usd"])
        if row["status"] in (JobStatus.FAILED.value, JobStatus.CANCELED.value) and not row["remote_id"]:
            return 0.0  # refused or stopped before the provider saw it
        return float(row["quote_usd"] or 0.0)  # live, unknown, or reached the provider: assume billed
