"""Which database a ledger setting names, opened: the SQLite file (the default, nothing to
install) or a PostgreSQL server. Kept apart from `database.py` so the PostgreSQL module can build on
the base class there while only this factory, the one place that chooses, imports it (lazily:
psycopg loads only when a PostgreSQL URL is configured)."""

from __future__ import annotations

from pathlib import Path

from reelforge.errors import StorageUnavailable
from reelforge.jobs.database import Database, SQLiteDatabase

POSTGRES_SCHEMES = ("postgresql", "postgres")


def connect(target: Path | str) -> Database:
    """The database a ledger setting names: a path (SQLite), `sqlite:///path`, or `postgresql://…`."""
    if isinstance(target, Path) or "://" not in target:
        return SQLiteDatabase(Path(target).expanduser())
    url = target.strip()
    scheme = url.partition("://")[0].lower()
    if scheme == "sqlite" and url[len("sqlite://"):].startswith("/") and len(url) > len("sqlite:///"):
        # SQLAlchemy's spelling: sqlite:///relative.db, sqlite:////absolute/path.db
        return SQLiteDatabase(Path(url[len("sqlite:///"):]).expanduser())
    if scheme.split("+")[0] in POSTGRES_SCHEMES:  # also postgresql+psycopg://, as SQLAlchemy and DBOS write it
        from reelforge.jobs.postgres import PostgresDatabase

        return PostgresDatabase(url)
    # Only the scheme is quoted: the rest of a URL can hold a password.
    raise StorageUnavailable(
        f"REELFORGE_DATABASE_URL starts with '{scheme}://', which reelforge cannot use as its ledger.",
        hint="Use postgresql://user:password@host:port/database, or sqlite:///path/to/ledger.sqlite3, "
        "or unset it for the SQLite ledger in REELFORGE_HOME.",
    )
