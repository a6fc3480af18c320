"""The ledger on a real PostgreSQL (issue 10, item 2): what only a server database can show.

Real OS processes racing for one job's lease and migrating a fresh database at once; connections
dropped by the server, cut in flight, or never answered; the password kept out of every message;
and the setting that chooses the engine. The store's behaviour on both engines is covered by the
`ledger`-parametrised tests in test_ledger.py, test_leases.py, test_runner.py and friends.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pg_utils import ROOT, admin

from reelforge.errors import StorageUnavailable
from reelforge.jobs.job import Job
from reelforge.jobs.migrations import MIGRATIONS
from reelforge.jobs.store import JobStore
from reelforge.settings import Settings

#: Runs in a child process: connect, wait for "go", open the ledger (migrating it), then claim jobs.
CHILD = r"""
import json, sys, time
from reelforge.jobs.connect import connect
from reelforge.jobs.store import JobStore
url, owner, ids = sys.argv[1], sys.argv[2], [i for i in sys.argv[3].split(",") if i]
db = connect(url)  # connected before the start, so the migrations themselves race
print("ready", flush=True)
sys.stdin.readline()  # "go": every child starts at once
store = JobStore(db)
won = [i for i in ids if store.claim(i, owner, time.time() + 60)]
print(json.dumps({"applied": store.applied_migrations, "won": won}), flush=True)
"""


def _race(url: str, count: int, ids: list[str]) -> list[dict]:
    """Start `count` processes, release them together, and return what each one reports."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, url, f"racer-{n}", ",".join(ids)], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(count)]
    try:
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        for proc in procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            reports.append(json.loads(out.strip().splitlines()[-1]))
        return reports
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=10)


def test_two_processes_racing_for_leases_never_both_win(pg_url: str) -> None:
    store = JobStore(pg_url)
    ids = [store.insert(Job(kind="generate")).id for _ in range(150)]
    a, b = _race(pg_url, 2, ids)
    assert not set(a["won"]) & set(b["won"]), "two processes hold one job's lease"
    assert sorted(a["won"] + b["won"]) == sorted(ids), "a free job was claimed by nobody"
    owners = {j: store.require(j).lease_owner for j in ids}
    assert all(owners[j] == "racer-0" for j in a["won"]) and all(owners[j] == "racer-1" for j in b["won"])
    print(f"claims won: {len(a['won'])} / {len(b['won'])}")


def test_processes_opening_a_fresh_database_at_once_migrate_it_once(pg_url: str) -> None:
    reports = _race(pg_url, 6, [])
    applied = sorted(name for r in reports for name in r["applied"])
    assert applied == sorted(m.__name__ for m in MIGRATIONS), "a migration ran twice, or not at all"
    with admin(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)


def test_timestamps_keep_full_precision(pg_url: str) -> None:
    """REAL means an 8-byte float on both engines (PostgreSQL's own REAL would round it by minutes)."""
    store = JobStore(pg_url)
    job = store.insert(Job(kind="generate", created_at=1767225600.123456, quote_usd=0.1 + 0.2))
    got = store.require(job.id)
    assert got.created_at == 1767225600.123456 and got.quote_usd == 0.1 + 0.2
    with admin(pg_url) as conn:
        types = dict(conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                                  "WHERE table_name = 'jobs'").fetchall())
    assert types["created_at"] == types["lease_until"] == "double precision"


def _backends(url: str, state: str | None = None) -> list[int]:
    with admin(url) as conn:
        rows = conn.execute("SELECT pid, wait_event_type FROM pg_stat_activity WHERE datname = %s AND "
                            "application_name = 'reelforge'", (urlsplit(url).path.lstrip("/"),)).fetchall()
    return [pid for pid, wait in rows if state is None or wait == state]


def _until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not within the bound"
        time.sleep(0.02)


def _terminate(url: str, pids: list[int]) -> None:
    with admin(url) as conn:
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))  # waits (bounded) until it is gone


def test_a_connection_dropped_while_idle_is_reopened(pg_url: str) -> None:
    store = JobStore(pg_url)
    job = store.insert(Job(kind="generate"))
    for step in range(3):  # a read, a write, a claim: each first meets the dead connection
        _terminate(pg_url, _backends(pg_url))
        [lambda: store.require(job.id), lambda: store.update(job.id, stage="after the drop"),
         lambda: store.claim(job.id, "me", time.time() + 60)][step]()
    row = store.require(job.id)
    assert row.stage == "after the drop" and row.lease_owner == "me"


def test_a_write_the_server_cut_off_is_sent_again_and_applied_once(pg_url: str) -> None:
    store = JobStore(pg_url)
    job = store.insert(Job(kind="generate", notes=["first"]))
    with admin(pg_url) as locker:
        locker.execute("BEGIN")
        locker.execute("SELECT 1 FROM jobs WHERE id = %s FOR UPDATE", (job.id,))  # the write will wait here
        errors: list[BaseException] = []
        writer = threading.Thread(target=lambda: _capture(errors, lambda: store.update(job.id, stage="retried")))
        writer.start()
        _until(lambda: len(_backends(pg_url, "Lock")) == 1)
        first = _backends(pg_url, "Lock")
        _terminate(pg_url, first)  # the server rolls the waiting UPDATE back and ends the session
        _until(lambda: _backends(pg_url, "Lock") not in ([], first))  # sent again on a new connection
        locker.execute("ROLLBACK")
        writer.join(timeout=10)
    assert not writer.is_alive() and not errors, errors
    assert store.require(job.id).stage == "retried"


def _capture(errors: list[BaseException], call) -> None:
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 (handed to the test thread)
        errors.append(exc)


class CuttingProxy:
    """A loopback TCP proxy to the server that can cut every connection at once (a dead link)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client = self.listener.accept()[0]
            except OSError:
                return
            server = socket.create_connection(self.target, timeout=10)
            server.settimeout(None)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass

    def cut(self) -> None:
        for s in self.sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)  # also wakes the pipe thread blocked reading it
            except OSError:
                pass
            s.close()
        self.sockets = []

    def close(self) -> None:
        self.cut()
        self.listener.close()


def test_a_write_lost_in_flight_is_reported_not_guessed_and_no_password_leaks(pg_url: str) -> None:
    parts = urlsplit(pg_url)
    proxy = CuttingProxy(parts.hostname, parts.port)
    try:
        store = JobStore(parts._replace(netloc=f"{parts.username}:{parts.password}@127.0.0.1:{proxy.port}").geturl())
        job = store.insert(Job(kind="generate"))
        with admin(pg_url) as locker:
            locker.execute("BEGIN")
            locker.execute("SELECT 1 FROM jobs WHERE id = %s FOR UPDATE", (job.id,))
            errors: list[BaseException] = []
            writer = threading.Thread(target=lambda: _capture(errors, lambda: store.update(job.id, stage="x")))
            writer.start()
            _until(lambda: len(_backends(pg_url, "Lock")) == 1)
            proxy.cut()  # the UPDATE reached the server; its answer never comes back
            writer.join(timeout=30)
            locker.execute("ROLLBACK")
        assert not writer.is_alive() and len(errors) == 1 and isinstance(errors[0], StorageUnavailable), errors
        text = "".join(traceback.format_exception(errors[0]))
        assert "may or may not have been recorded" in text
        assert parts.password not in text and parts.password not in store.location
        assert store.require(job.id).id == job.id, "the next call did not reconnect"
    finally:
        proxy.close()


def test_the_password_never_appears_in_an_error(pg_url: str, tmp_path: Path) -> None:
    parts = urlsplit(pg_url)
    secret = "Wr0ng-Passw0rd-9f3c"
    bad = [
        parts._replace(netloc=f"{parts.username}:{secret}@{parts.hostname}:{parts.port}").geturl(),  # refused
        f"postgresql://{parts.username}:{secret}@127.0.0.1:notaport/db",  # psycopg quotes what it cannot parse
        f"postgresql+psycopg://{parts.username}:{secret}@127.0.0.1:1/db?connect_timeout=2",  # nobody listening
        f"mysql://{parts.username}:{secret}@127.0.0.1/db",  # not an engine we know
    ]
    for url in bad:
        with pytest.raises(StorageUnavailable) as info:
            JobStore.open(Settings(home=tmp_path, database_url=url))
        text = "".join(traceback.format_exception(info.value))
        assert secret not in text, text
        assert "REELFORGE_DATABASE_URL" in text  # and it says what to fix
    assert secret not in repr(Settings(home=tmp_path, database_url=bad[0]))


def test_a_server_that_never_answers_fails_the_open_in_bounded_time(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts the connection, never says a word
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            JobStore(f"postgresql://u:p@127.0.0.1:{silent.getsockname()[1]}/db?connect_timeout=1")
        assert time.monotonic() - started < 10


def test_the_setting_chooses_the_engine(pg_url: str, tmp_path: Path) -> None:
    default = JobStore.open(Settings(home=tmp_path))
    assert default.kind == "sqlite" and default.path == Settings(home=tmp_path).ledger
    empty = JobStore.open(Settings(home=tmp_path, database_url=""))
    assert empty.path == default.path
    assert JobStore.open(Settings(home=tmp_path, database_url=f"sqlite:///{tmp_path}/other.db")).path == \
        tmp_path / "other.db"
    shared = JobStore.open(Settings(home=tmp_path, database_url=pg_url))
    assert shared.kind == "postgresql" and shared.path is None
    assert urlsplit(pg_url).password not in shared.location
    job = shared.insert(Job(kind="generate"))
    assert JobStore(pg_url).require(job.id).id == job.id and default.get(job.id) is None
