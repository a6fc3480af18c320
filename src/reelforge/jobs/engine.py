"""The durable-execution engine: every job runs as a DBOS Transact workflow.

DBOS keeps the workflow table, the queues and their limits in a database: SQLite by default (a
desktop install sets up nothing), the team's PostgreSQL when `REELFORGE_DATABASE_URL` names one, so
the same code runs one process or many. What each part does:

- A job is the workflow `reelforge.job(job_id, attempt)`, id `<job_id>` for the first attempt (a
  workflow id is an idempotency key: submitting twice starts it once). Its one coarse step drives
  the job through the runner on the runner's event loop: the handler, progress and checkpoints all
  go to our ledger as before. Steps are at-least-once, so the money rules stay in the ledger, where
  a re-run is safe: the intent row before a create, the remote id adopted on resume, an ambiguous
  create ending `unknown`. The ledger lease still names the one process that drives a job.
- Queues: `gpu` (one render per worker process), `media` (previews, extend, loop, compose),
  `remote` (provider jobs), `remote.<provider>` for a provider with a rate limit and
  `remote.<provider>/<model>` for a model with one (jobs started per period, counted across every
  process on the database). A model's limit is the operator's (`REELFORGE_RATE_LIMITS`) or, for a
  provider whose server key is set and which the operator did not limit, the catalog's
  `requests_per_minute` (Veo's 10 or 50 a minute per project). A process runs the queues
  `REELFORGE_QUEUES` names; work on a queue it runs with no limit starts at once instead of waiting
  for the queue's next poll.
- Take-over. DBOS alone hands a dead executor's workflows to no one (that is its paid Conductor),
  and two processes with the same executor id run the same job twice (measured, `scale-out.md`).
  So each process has its own executor id (its lease owner id), and the runners' lease heartbeat
  is the supervisor: a job whose driver's lease lapsed (or whose process is dead) gets its next
  attempt, `<job_id>.2`, `.3`, …, enqueued on its queue after the stale attempt is cancelled. The
  attempt ids are deterministic, so two supervisors racing hand a job over once.
- One engine per process, launched from a thread after the MCP handshake (`import dbos` takes about
  0.7 s), never destroyed before exit (its threads are daemons). The application version is fixed
  (`ENGINE_VERSION`): DBOS's default, a hash of the code, strands queued jobs at every upgrade.
- Retention: finished workflows older than `REELFORGE_ENGINE_RETENTION_DAYS` are deleted (the
  ledger keeps the jobs; DBOS has no built-in cleanup).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from dbos import DBOS, SetWorkflowID

from reelforge.errors import InvalidRequest
from reelforge.jobs.lease import new_owner_id, owner_is_dead
from reelforge.settings import Settings

log = logging.getLogger(__name__)

#: The workflow contract's version (not the package's): bump it only when `reelforge.job`'s
#: arguments or steps change incompatibly. Queued jobs of another version are not run.
ENGINE_VERSION = "reelforge-engine-1"
QUEUE_KINDS = ("gpu", "remote", "media")
#: Statuses of an attempt that is still going to run, or running.
LIVE = ("ENQUEUED", "PENDING", "DELAYED")


class Driver(Protocol):
    """What the engine needs of a runner (kept as a protocol: the runner imports this module lazily)."""

    owner: str
    loop: asyncio.AbstractEventLoop | None
    #: Whether it runs work other processes submitted (servers, workers; the command line does not).
    resume: bool
    lease_s: float

    def holds_ledger_of(self, job_id: str) -> bool: ...
    def drive_attempt(self, job_id: str, attempt: int) -> Awaitable[str]: ...


# -- the workflow ----------------------------------------------------------------------------------
_drivers: list[Driver] = []  # serving runners in this process, newest last
_driver_of: dict[str, Driver] = {}  # job id -> the runner that submitted or handed it over here


def _driver_for(job_id: str) -> Driver | None:
    driver = _driver_of.pop(job_id, None)
    if driver is not None and driver in _drivers:
        return driver
    for candidate in reversed(_drivers):  # work from another process: the runner on the job's ledger
        if candidate.resume and candidate.holds_ledger_of(job_id):
            return candidate
    return None


@DBOS.step(name="reelforge.drive")
async def _drive(job_id: str, attempt: int) -> str:
    driver = _driver_for(job_id)
    if driver is None or driver.loop is None:
        return "no-runner"  # the supervisor hands it on again if the job is still unfinished
    # Queued workflows run on DBOS's own loop thread; the job runs where its runner lives, in a fresh
    # context: DBOS keeps its workflow context in a context variable, and a job that starts step jobs
    # (extend, compose) must start them as jobs of their own, not as children of this step.
    future = contextvars.Context().run(asyncio.run_coroutine_threadsafe,
                                       _as_coroutine(driver.drive_attempt(job_id, attempt)), driver.loop)
    return await asyncio.wrap_future(future)


async def _as_coroutine(awaitable: Awaitable[str]) -> str:
    return await awaitable


@DBOS.workflow(name="reelforge.job")
async def _job_workflow(job_id: str, attempt: int) -> str:
    return await _drive(job_id, attempt)


def attempt_id(job_id: str, attempt: int) -> str:
    return job_id if attempt == 1 else f"{job_id}.{attempt}"


def _attempt_of(workflow_id: str) -> int:
    tail = workflow_id.rpartition(".")[2]
    return int(tail) if "." in workflow_id and tail.isdigit() else 1


# -- configuration -----------------------------------------------------------------------------------
def parse_rate_limits(text: str) -> dict[str, tuple[int, float]]:
    """'runway=5/60,veo/veo-3.1-generate-preview=8/60' -> {'runway': (5, 60.0), 'veo/veo-3.1-…': (8, 60.0)}:
    a provider's limit, or one model's."""
    limits: dict[str, tuple[int, float]] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, rate = part.partition("=")
        count, _, period = rate.partition("/")
        try:
            limits[name.strip()] = (int(count), float(period or 60))
            if limits[name.strip()][0] < 1 or limits[name.strip()][1] <= 0:
                raise ValueError
        except ValueError:
            raise InvalidRequest(f"REELFORGE_RATE_LIMITS entry '{part}' is not provider[/model]=COUNT/SECONDS.",
                                 hint="For example REELFORGE_RATE_LIMITS='runway=5/60,veo/veo-3.1-generate-preview=8/60'.") from None
    return limits


def with_defaults(limits: dict[str, tuple[int, float]], defaults: dict[str, tuple[int, float]]) -> dict[str, tuple[int, float]]:
    """The operator's limits plus each default ('provider/model' keys from the catalog) for a
    provider and model the operator left unlimited: their entry, for either, replaces ours."""
    kept = {key: rate for key, rate in defaults.items() if key not in limits and key.split("/")[0] not in limits}
    return {**limits, **kept}


def parse_queues(text: str) -> frozenset[str]:
    names = {q.strip() for q in text.split(",") if q.strip()}
    if names in ({"all"}, set()):
        return frozenset(QUEUE_KINDS)
    if names == {"none"}:
        return frozenset()
    unknown = names - set(QUEUE_KINDS)
    if unknown:
        raise InvalidRequest(f"Unknown queue(s) {sorted(unknown)} in REELFORGE_QUEUES / --queue.",
                             hint=f"Use {', '.join(QUEUE_KINDS)}, all, or none.")
    return frozenset(names)


def queue_for(kind: str, provider: str | None, limits: dict[str, tuple[int, float]], model: str | None = None) -> str:
    """The queue a job waits on: local GPU renders, provider jobs (per model or per provider when
    rate-limited), media."""
    if kind == "generate" and provider == "local":
        return "gpu"
    if kind == "generate" and provider not in (None, "preview"):
        for key in (f"{provider}/{model}", provider):
            if key in limits:
                return f"remote.{key}"
        return "remote"
    # media: previews and derived jobs, including a batch, which mostly waits on its children (an
    # unlimited queue, so a waiting parent never holds the slot its children need).
    return "media"


def engine_url(settings: Settings) -> str:
    """The engine's database: its own setting, else the ledger's PostgreSQL, else a SQLite file in HOME."""
    if settings.engine_url is not None:
        return settings.engine_url.get_secret_value()
    ledger = settings.database_url.get_secret_value() if settings.database_url else ""
    if ledger.split("://")[0].split("+")[0].lower() in ("postgresql", "postgres"):
        return ledger
    path = settings.home.expanduser().resolve() / "engine.sqlite"
    return f"sqlite:///{path}"


# -- the engine --------------------------------------------------------------------------------------
@dataclass
class Engine:
    url: str
    executor_id: str
    listen: frozenset[str]
    limits: dict[str, tuple[int, float]]
    poll_s: float
    queues: dict[str, Any] = field(default_factory=dict)

    def listens_to(self, queue: str) -> bool:
        return queue.split(".")[0] in self.listen

    async def submit(self, driver: Driver, job_id: str, queue: str, attempt: int = 1, *, direct: bool = False) -> None:
        """Start attempt `attempt` of a job: at once where this process runs an unlimited queue (or
        `direct`: the command line's own job), else queued for whichever process runs the queue."""
        _driver_of[job_id] = driver
        with SetWorkflowID(attempt_id(job_id, attempt)):
            if direct or (self.listens_to(queue) and queue in ("media", "remote")):
                await DBOS.start_workflow_async(_job_workflow, job_id, attempt)
            else:
                await self.queues[queue].enqueue_async(_job_workflow, job_id, attempt)

    async def submit_next(self, driver: Driver, job_id: str, queue: str, *, direct: bool = False) -> None:
        """Submit a job unless an attempt of it is waiting or running: its first attempt, or the next one
        for a job started again (a failed download fetched anew)."""
        latest = (await self.attempts([job_id])).get(job_id)
        for _ in range(100):  # an attempt of ours that just drove it records its end a moment later
            if latest is None or latest.status != "PENDING" or latest.executor_id != self.executor_id:
                break
            await asyncio.sleep(0.05)
            latest = (await self.attempts([job_id])).get(job_id)
        if latest is not None and latest.status in LIVE:
            return
        attempt = 1 if latest is None else _attempt_of(latest.workflow_id) + 1
        await self.submit(driver, job_id, queue, attempt, direct=direct)

    async def attempts(self, job_ids: list[str]) -> dict[str, Any]:
        """The latest engine attempt of each job (a DBOS WorkflowStatus), for those that have one."""
        if not job_ids:
            return {}
        latest: dict[str, Any] = {}
        for status in await DBOS.list_workflows_async(workflow_id_prefix=job_ids, load_input=False,
                                                       load_output=False):
            job_id = status.workflow_id.rpartition(".")[0] if "." in status.workflow_id else status.workflow_id
            if job_id not in latest or _attempt_of(status.workflow_id) > _attempt_of(latest[job_id].workflow_id):
                latest[job_id] = status
        return latest

    async def hand_over(self, driver: Driver, orphans: list[tuple[str, str]]) -> list[str]:
        """Give each orphan job (id, queue) whose driver is gone its next attempt; returns the ids handed on.

        An orphan is a job whose lease lapsed or whose process is dead (the runner decides). One whose
        attempt still waits in a queue is left there, and so is one that a live process took from the
        queue a moment ago (it claims the lease next); a stale running attempt is cancelled first."""
        latest = await self.attempts([job_id for job_id, _ in orphans])
        handed: list[str] = []
        fresh_after_ms = (time.time() - driver.lease_s) * 1000
        for job_id, queue in orphans:
            status = latest.get(job_id)
            if status is not None and status.status in ("ENQUEUED", "DELAYED"):
                continue
            if status is not None and status.status == "PENDING" and (status.updated_at or 0) > fresh_after_ms \
                    and not owner_is_dead(status.executor_id or ""):
                continue
            attempt = 1 if status is None else _attempt_of(status.workflow_id) + 1
            if status is not None and status.status == "PENDING":
                await DBOS.cancel_workflow_async(status.workflow_id)
            await self.submit(driver, job_id, queue, attempt)
            handed.append(job_id)
        return handed

    async def forget(self, job_id: str) -> None:
        """Drop a canceled job's waiting attempt from its queue (a running one stops through the ledger)."""
        status = (await self.attempts([job_id])).get(job_id)
        if status is not None and status.status in ("ENQUEUED", "DELAYED"):
            await DBOS.cancel_workflow_async(status.workflow_id)

    async def sweep(self, older_than_days: float) -> int:
        """Delete finished workflows older than the retention period; returns how many."""
        cutoff = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - older_than_days * 86400))
        done = await DBOS.list_workflows_async(status=["SUCCESS", "ERROR", "CANCELLED"], completed_before=cutoff,
                                               name="reelforge.job", load_input=False, load_output=False)
        if done:
            await DBOS.delete_workflows_async([w.workflow_id for w in done])
        return len(done)


_engine: Engine | None = None
_engine_lock = threading.Lock()


def _sqlite_engine(url: str) -> Any:
    """The engine's SQLite file, set up as DBOS sets it up (IMMEDIATE transactions, a long busy
    timeout, foreign keys) plus WAL (several processes enqueue and dequeue at once; DBOS leaves the
    default journal, measured 1.6x slower for two workers) and `synchronous=NORMAL`: no fsync per
    checkpoint. That is safe against any process crash; a power cut may lose the last records,
    which costs nothing, since the ledger is the record of every job and the supervisors submit a
    job whose attempt is missing again."""
    import sqlalchemy as sa

    path = Path(url[len("sqlite:///"):]).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path, timeout=30) as db:
        db.execute("PRAGMA journal_mode=WAL")
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _setup(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver begins nothing itself; _begin below does
        dbapi_conn.execute("PRAGMA busy_timeout=30000")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # Every transaction takes the write lock when it begins. With the driver's own IMMEDIATE
        # mode a transaction began only at its first write, so a queue's dequeue counted the rate
        # limiter's window in autocommit, before its claim: two processes both counted 0 and each
        # started a full window's worth (37 starts against a limit of 30, tests/test_team.py).
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    @sa.event.listens_for(engine, "before_cursor_execute", retval=True)
    def _already_begun(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> Any:
        # DBOS's migration issues its own BEGIN IMMEDIATE inside a transaction, which now holds the lock.
        if statement.strip().upper() == "BEGIN IMMEDIATE" and cursor.connection.in_transaction:
            return "SELECT 1", ()
        return statement, parameters

    return engine


def _launch(settings: Settings, executor_id: str, defaults: dict[str, tuple[int, float]]) -> Engine:
    global _engine
    with _engine_lock:
        if _engine is not None:
            return _engine
        url = engine_url(settings)
        limits = with_defaults(parse_rate_limits(settings.rate_limits), defaults)
        listen = parse_queues(settings.queues)
        database: dict[str, Any] = {"system_database_url": url}
        if url.startswith("sqlite"):
            database["system_database_engine"] = _sqlite_engine(url)
        DBOS(config={"name": "reelforge", **database, "executor_id": executor_id,  # type: ignore[typeddict-item]
                     "application_version": ENGINE_VERSION,
                     # Its warnings are about our own shutdowns (a step cancelled with the runner): noise.
                     "log_level": "ERROR"})
        names = ["gpu", "media", "remote", *(f"remote.{p}" for p in sorted(limits))]
        DBOS.listen_queues([q for q in names if q.split(".")[0] in listen])
        DBOS.launch()
        _engine = Engine(url=url, executor_id=executor_id, listen=listen, limits=limits, poll_s=settings.queue_poll_s)
        return _engine


async def start_engine(settings: Settings, run_sync: Callable[..., Awaitable[Engine]],
                       defaults: dict[str, tuple[int, float]] | None = None) -> Engine:
    """The process's engine, launched on first use (off the event loop: launch blocks ~0.1 s). Its
    executor id names this process (host, pid, start time), unique across every process on the
    database. `defaults`: rate limits per 'provider/model' used where the operator set none."""
    engine = await run_sync(_launch, settings, new_owner_id(), defaults or {})
    if not engine.queues:
        poll = engine.poll_s
        queues = {"gpu": await DBOS.register_queue_async("gpu", worker_concurrency=1, polling_interval_sec=poll),
                  "media": await DBOS.register_queue_async("media", polling_interval_sec=poll),
                  "remote": await DBOS.register_queue_async("remote", polling_interval_sec=poll)}
        # DBOS stamps starts in whole seconds on SQLite, so a window of `period` there can span almost a
        # second less: widen it by that second (measured in tests/test_team.py), never admit more.
        slack = 1.0 if engine.url.startswith("sqlite") else 0.0
        for key, (count, period) in engine.limits.items():
            queues[f"remote.{key}"] = await DBOS.register_queue_async(
                f"remote.{key}", limiter={"limit": count, "period": period + slack}, polling_interval_sec=poll)
        engine.queues = queues
    return engine


def stop_engine() -> None:
    """Stop the process's engine before exit (a worker's clean stop): its threads end instead of
    failing at interpreter shutdown. Blocks about a second; call it off the event loop."""
    global _engine
    with _engine_lock:
        if _engine is not None:
            DBOS.destroy()
            _engine = None


def attach(driver: Driver) -> None:
    if driver not in _drivers:
        _drivers.append(driver)


def detach(driver: Driver) -> None:
    if driver in _drivers:
        _drivers.remove(driver)
    for job_id in [j for j, d in _driver_of.items() if d is driver]:
        del _driver_of[job_id]
