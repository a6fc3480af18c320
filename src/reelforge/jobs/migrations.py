"""Versioned schema migrations for the ledger, run once at server start, on SQLite and PostgreSQL alike.

Each migration is a numbered function; its name is its identity in the `_migrations` table.
Never edit a released migration: add a new one. Migrations are written in SQLite's spelling and
run through a `Database`, which gives them the same meaning on PostgreSQL (see `database.py`):
write portable DDL (TEXT, REAL, INTEGER; JSON as TEXT), one statement per `execute`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from reelforge.jobs.database import Database

MIGRATIONS: list[Callable[[Database], None]] = []
migration = MIGRATIONS.append


@migration
def m001_jobs(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            progress REAL,
            stage TEXT,
            provider TEXT,
            model TEXT,
            remote_id TEXT,
            request TEXT NOT NULL,
            quote_usd REAL,
            quote TEXT,
            cost_usd REAL,
            error_code TEXT,
            error_message TEXT,
            parents TEXT NOT NULL DEFAULT '[]',
            outputs TEXT NOT NULL DEFAULT '{}',
            state TEXT NOT NULL DEFAULT '{}',
            notes TEXT NOT NULL DEFAULT '[]',
            idempotency_key TEXT UNIQUE,
            request_hash TEXT,
            eta_s REAL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            finished_at REAL
        )
        """
    )
    db.execute("CREATE INDEX jobs_status ON jobs(status)")
    db.execute("CREATE INDEX jobs_hash ON jobs(request_hash, created_at)")
    db.execute("CREATE INDEX jobs_created ON jobs(created_at)")


@migration
def m002_job_leases(db: Database) -> None:
    # The server driving a job renews a short lease on its row; a row whose lease lapsed (its server
    # died) is taken over by another live server instead of staying `running` forever.
    db.execute("ALTER TABLE jobs ADD COLUMN lease_owner TEXT")
    db.execute("ALTER TABLE jobs ADD COLUMN lease_until REAL")


@migration
def m003_call_hash(db: Database) -> None:
    # What the caller asked for (tool arguments), so an idempotency key re-used for another request is
    # refused. The normalised request hash cannot tell: it holds a seed drawn per call.
    db.execute("ALTER TABLE jobs ADD COLUMN call_hash TEXT")


@migration
def m004_job_user(db: Database) -> None:
    # The user a job belongs to on a shared service (tiers file): quotas count per user, a user's own
    # provider keys drive their jobs, and a user sees only their own jobs.
    db.execute("ALTER TABLE jobs ADD COLUMN user_id TEXT")
    db.execute("CREATE INDEX jobs_user ON jobs(user_id, created_at)")


def migrate(db: Database) -> list[str]:
    """Apply every migration not yet recorded; returns the names applied."""
    with db.exclusive():  # two processes creating the table at once would collide on PostgreSQL
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    applied = []
    for fn in MIGRATIONS:
        # One transaction per migration, serialised between processes (SQLite: BEGIN IMMEDIATE;
        # PostgreSQL: an advisory lock): a failure rolls back completely, and a process that waited
        # finds the migration recorded by the one before it.
        with db.exclusive():
            done = db.execute("SELECT 1 FROM _migrations WHERE name = ?", (fn.__name__,)).fetchone()
            if done is None:
                fn(db)
                db.execute("INSERT INTO _migrations(name, applied_at) VALUES (?, ?)", (fn.__name__, time.time()))
                applied.append(fn.__name__)
    return applied
