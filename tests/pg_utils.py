"""A real PostgreSQL for the tests, and the `ledger` fixture that runs store tests on both engines.

Where the server comes from, in this order:

1. `REELFORGE_TEST_DATABASE_URL` (CI exports it from `.ci/start-postgres`): a superuser's URL on a
   running server;
2. else a throwaway cluster that `.ci/start-postgres` starts for this session when the Debian
   package's binaries are installed (stopped and deleted at the end);
3. else the PostgreSQL tests skip, except with `REELFORGE_REQUIRE_POSTGRES=1` (CI), where they fail:
   a CI machine that lost its PostgreSQL must not pass by skipping half the ledger tests.

Each test gets a fresh database (created, then dropped), so the migrations run on an empty database
exactly as at a deployment's first start. Every wait here is bounded.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
START = ROOT / ".ci" / "start-postgres"


def _unavailable(why: str) -> None:
    if os.environ.get("REELFORGE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required here (REELFORGE_REQUIRE_POSTGRES=1) but {why}", pytrace=False)
    pytest.skip(f"no PostgreSQL for the tests: {why} (set REELFORGE_TEST_DATABASE_URL, or install postgresql)")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A superuser's URL on a running PostgreSQL server (read before any test clears REELFORGE_ vars)."""
    url = os.environ.get("REELFORGE_TEST_DATABASE_URL", "").strip()
    if url:
        yield url
        return
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        _unavailable("REELFORGE_TEST_DATABASE_URL is not set and /usr/lib/postgresql/*/bin/initdb is missing")
    # In /tmp, not pytest's tmp_path: the server runs as `postgres` when we are root, and must reach it.
    where = tempfile.mkdtemp(prefix="reelforge-pg-", dir="/tmp")
    try:
        out = subprocess.run([str(START), where], capture_output=True, text=True, timeout=180,
                             env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if out.returncode != 0 or "REELFORGE_TEST_DATABASE_URL=" not in out.stdout:
            _unavailable(f".ci/start-postgres failed ({out.returncode}): {out.stderr[-2000:]}")
        yield out.stdout.strip().splitlines()[-1].split("REELFORGE_TEST_DATABASE_URL=", 1)[1]
    finally:
        subprocess.run([str(START), "--stop", where], capture_output=True, timeout=60)
        shutil.rmtree(where, ignore_errors=True)


def admin(server_url: str):
    """A short-lived superuser connection (autocommit: CREATE DATABASE cannot run in a transaction)."""
    import psycopg

    return psycopg.connect(server_url, autocommit=True, connect_timeout=10)


def database_url(server_url: str, name: str) -> str:
    return urlsplit(server_url)._replace(path=f"/{name}").geturl()


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """The URL of a fresh, empty database on the test server, dropped after the test."""
    name = f"rf_{uuid.uuid4().hex[:12]}"
    with admin(pg_server) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(pg_server, name)
    finally:
        with admin(pg_server) as conn:  # FORCE: a connection a failed test left open must not keep it
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """What `JobStore(...)` opens, once per engine: a SQLite file, or a fresh PostgreSQL database's URL.
    Open it twice for two processes' views of one ledger."""
    if request.param == "sqlite":
        return tmp_path / "l.db"
    return request.getfixturevalue("pg_url")


def table_names(target: Path | str) -> set[str]:
    """The tables in a ledger, read without reelforge (to check what a migration left behind)."""
    if isinstance(target, Path):
        import sqlite3

        with sqlite3.connect(target) as db:
            return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    import psycopg

    with psycopg.connect(target, connect_timeout=10) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {r[0] for r in rows}
