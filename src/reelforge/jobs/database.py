"""Where the ledger lives: one SQLite file by default, or one PostgreSQL database shared by many processes.

`JobStore` and the migrations speak one small SQL dialect: `?` and `:name` parameters, SQLite's
column spellings (TEXT, REAL; JSON kept as TEXT), one statement per call. A `Database` owns
everything that differs between the two engines, in one place each: connecting, the parameter
style, the class of a unique-key violation, the DDL meaning of REAL, and how a migration is
serialised between processes. So the store has no `if postgres` in it, and the SQLite path runs
exactly the statements it ran before PostgreSQL existed: an existing ledger file keeps its schema.

`REELFORGE_DATABASE_URL` picks the engine (`jobs/connect.py`): unset, the SQLite file at
`Settings.ledger`, which needs nothing installed; `postgresql://` (or `postgres://`) a server,
through `postgres.py`, the only module that imports psycopg, and only when such a URL is set: a
desktop server never loads it.
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, ClassVar


Params = Sequence[Any] | Mapping[str, Any]


class Database(ABC):
    """One connection to the ledger's database. Not thread-safe: the store serialises calls."""

    kind: ClassVar[str]
    #: The exception a UNIQUE or PRIMARY KEY violation raises (an idempotency key used twice).
    integrity_error: ClassVar[type[Exception]]
    #: Where the ledger is, fit for a message or a log line (never a password).
    location: str
    #: The ledger file on SQLite; None on a database server.
    path: Path | None = None

    @abstractmethod
    def execute(self, sql: str, params: Params = ()) -> Any:
        """Run one statement in its own transaction (unless inside `exclusive`); returns a cursor whose
        rows read by column name (`row["id"]`, `dict(row)`)."""

    @abstractmethod
    def exclusive(self) -> AbstractContextManager[None]:
        """One transaction that no other process on this database runs at the same time (a migration).
        It commits when the block ends and rolls back completely when it raises."""

    @abstractmethod
    def close(self) -> None: ...


class SQLiteDatabase(Database):
    """The embedded default. WAL so readers (resources, the CLI in another process) never block the
    runner; a busy timeout so two processes sharing a ledger wait instead of failing."""

    kind = "sqlite"
    integrity_error = sqlite3.IntegrityError

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.location = str(path)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.execute("PRAGMA synchronous=NORMAL")

    def execute(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        # The connection is in autocommit mode; IMMEDIATE takes the write lock at BEGIN, so two
        # processes opening a fresh ledger queue here (within the busy timeout) instead of both migrating.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()
