"""The ledger on PostgreSQL (`REELFORGE_DATABASE_URL=postgresql://…`): one database, many processes.

Imported only when such a URL is configured, so a desktop server never loads psycopg. How it is
built, and why:

* One psycopg 3 connection in autocommit mode, used under the store's lock, exactly like the SQLite
  connection: every store call is one short statement that commits on its own, and the conditional
  UPDATEs the leases rely on (`claim`: of two processes, exactly one wins) are atomic in PostgreSQL
  as they are in SQLite. Rows come back as dicts, so `row["id"]` reads the same on both engines.
* The store's `?` and `:name` parameters become psycopg's `%s` and `%(name)s` (string literals
  untouched), translated once per statement text.
* In DDL, REAL means DOUBLE PRECISION: SQLite's REAL is an 8-byte float, PostgreSQL's a 4-byte one,
  which would round every timestamp (about 1.7e9 s) to a multiple of 128 seconds. Released
  migrations keep their text; the meaning stays "a double", as it is on SQLite.
* A migration is one transaction holding a transaction-level advisory lock, so processes opening
  a fresh database at once queue instead of both creating the tables (PostgreSQL DDL is
  transactional: a failed migration leaves nothing behind). The lock wait is bounded.
* A dropped connection (server restart, idle-session kill, failover) is reopened on the next call.
  The statement that met the drop is sent again only when repeating it cannot apply it twice: a
  read, or a statement the server itself cut off when it ended the session (PostgreSQL rolled it
  back). A write lost in flight otherwise raises `StorageUnavailable` saying so: it may or may not
  have been recorded, and we do not guess (the rule the ledger keeps for paid requests, too).
* Every network wait is bounded: a connect timeout, TCP keepalives and a user timeout, so a
  silently dead network fails a call in about a minute instead of hanging the runner.
* The password never leaves the process: it is remembered for `reelforge.redact`, `location` is the
  URL without it, and connection errors are rebuilt from redacted text without chaining psycopg's
  exception (psycopg quotes a malformed connection string whole).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from reelforge.errors import StorageUnavailable
from reelforge.jobs.database import Database, Params
from reelforge.redact import redact, remember_secret

#: The advisory lock that serialises migrations between processes ("reelforg" in ASCII).
MIGRATION_LOCK = 0x7265656C666F7267
#: Defaults for a URL that does not set them (a URL's own values win).
CONNECT_DEFAULTS = {
    "connect_timeout": "10",
    "application_name": "reelforge",
    "keepalives": "1", "keepalives_idle": "30", "keepalives_interval": "10", "keepalives_count": "3",
    "tcp_user_timeout": "60000",  # ms: unacknowledged data on a dead link fails the call
}
LOCK_TIMEOUT = "60s"
_HINT = ("Check REELFORGE_DATABASE_URL, and that the PostgreSQL server is running and reachable from this "
         "machine (`reelforge doctor` tries it); unset it to use the SQLite ledger in REELFORGE_HOME.")

# A string literal (left as it is), a parameter, a `%` (doubled for psycopg), or in DDL the word REAL.
_TOKENS = re.compile(r"'(?:[^']|'')*'|\?|(?<!:):(\w+)|%|\bREAL\b", re.IGNORECASE)


@lru_cache(maxsize=256)
def to_psycopg(sql: str) -> str:
    """The store's SQL (`?`, `:name`, SQLite's DDL types) as psycopg and PostgreSQL read it."""
    ddl = sql.lstrip().upper().startswith(("CREATE", "ALTER"))

    def token(match: re.Match[str]) -> str:
        text = match.group(0)
        if text.startswith("'"):
            return text.replace("%", "%%")
        if text == "?":
            return "%s"
        if text == "%":
            return "%%"
        if match.group(1):
            return f"%({match.group(1)})s"
        return "DOUBLE PRECISION" if ddl else text  # REAL outside DDL is not a type (and not ours)

    return _TOKENS.sub(token, sql)


def _is_read(query: str) -> bool:
    return query.lstrip().upper().startswith("SELECT")


def _cut_off_by_server(exc: psycopg.Error) -> bool:
    """The server ended the session before answering (admin shutdown, crash shutdown, restart): the
    statement was rolled back, so sending it again cannot apply it twice."""
    return (exc.sqlstate or "").startswith("57P")


class PostgresDatabase(Database):
    kind = "postgresql"
    integrity_error = psycopg.IntegrityError

    def __init__(self, url: str) -> None:
        scheme, sep, rest = url.partition("://")
        url = f"postgresql{sep}{rest}" if "+" in scheme else url  # libpq knows no "+driver" suffix
        try:
            params = conninfo_to_dict(url)
        except psycopg.Error as exc:
            raise StorageUnavailable(f"REELFORGE_DATABASE_URL is not a usable PostgreSQL URL: {redact(str(exc))}",
                                     hint=_HINT) from None
        remember_secret(str(params.get("password") or ""))  # any error text that quotes it is cleaned
        self.location = self._describe(params)
        self._conninfo = make_conninfo(**{**CONNECT_DEFAULTS, **{k: str(v) for k, v in params.items()}})
        self._in_transaction = False
        self._conn = self._connect()

    @staticmethod
    def _describe(params: dict[str, Any]) -> str:
        host = str(params.get("host") or "localhost")
        port = f":{params['port']}" if params.get("port") else ""
        user = f"{params['user']}@" if params.get("user") else ""
        return f"postgresql://{user}{host}{port}/{params.get('dbname') or ''}"

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self._conninfo, autocommit=True, row_factory=dict_row)
        except psycopg.Error as exc:
            raise StorageUnavailable(f"Cannot open the PostgreSQL ledger at {self.location}: {redact(str(exc))}",
                                     hint=_HINT) from None

    def execute(self, sql: str, params: Params = ()) -> psycopg.Cursor[Any]:
        query = to_psycopg(sql)
        if self._conn.closed and not self._in_transaction:
            self._conn = self._connect()  # dropped since the last call: nothing of ours was in flight
        try:
            return self._conn.execute(query, params)
        except psycopg.OperationalError as exc:
            if not self._conn.closed:
                raise  # a statement's own failure (lock timeout, cancel): the connection is fine
            if self._in_transaction:
                raise self._lost(exc, "during a migration; it was rolled back") from None
            if not (_is_read(query) or _cut_off_by_server(exc)):
                raise self._lost(exc, "during a write, which may or may not have been recorded") from None
            self._conn = self._connect()
            return self._conn.execute(query, params)

    def _lost(self, exc: psycopg.Error, what: str) -> StorageUnavailable:
        return StorageUnavailable(f"The connection to the PostgreSQL ledger at {self.location} was lost {what}: "
                                  f"{redact(str(exc))}", hint=_HINT)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        if self._conn.closed:
            self._conn = self._connect()
        self._in_transaction = True
        try:
            with self._conn.transaction():
                # Bounded: a process that hangs inside a migration must not hang every other one.
                self._conn.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                yield
        finally:
            self._in_transaction = False

    def close(self) -> None:
        self._conn.close()
