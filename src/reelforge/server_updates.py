"""Job updates in the background: a client subscribed to `reelforge://jobs/{id}` hears when that job
changes, whether or not a tool call is waiting on it.

Both protocol eras subscribe differently, and mcp 2.3 serves only the new one by itself:
- 2026 era: `subscriptions/listen` names the URIs; the SDK's listen handler filters a
  `SubscriptionBus` per stream. A middleware notes which job URIs open streams name (for as long as
  each stream lasts), and changes are published on that bus.
- Legacy sessions: `resources/subscribe` / `resources/unsubscribe`, which `MCPServer` leaves
  unserved; they are served here, and a change is sent on each subscribed session.

Where changes come from: the runner calls its listeners on every write of a job it drives, so those
are told at once, with no polling at all. A watched job driven by another process (a worker, a
replica, a queued job not yet claimed) changes only in the ledger: one loop for the whole server
re-reads just those rows every `REMOTE_WATCH_S`, and sleeps outright while there are none. A
notification goes out only when what a reader sees changed (status, progress, stage, result), not
on lease renewals, and never twice for the same state.

Job ids are unguessable and a notification carries only the URI; reading it is ownership-checked.
"""

from __future__ import annotations

import logging
import math
import weakref
from collections import Counter
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.subscriptions import ResourceUpdated, SubscriptionBus
from mcp_types import SubscribeRequestParams, SubscriptionsListenRequestParams, UnsubscribeRequestParams
from pydantic import ValidationError

if TYPE_CHECKING:
    from mcp.server import MCPServer
    from mcp.server.connection import Connection
    from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

    from reelforge.jobs.job import Job
    from reelforge.studio.core import Studio

log = logging.getLogger(__name__)

JOB_URI = "reelforge://jobs/"
#: How often a watched job that another process drives is re-read (one row read each).
REMOTE_WATCH_S = 1.0
#: A legacy session that does not take a notification within this long is dropped.
SEND_TIMEOUT_S = 5.0


def _seen(job: Job) -> tuple[Any, ...]:
    """What a reader of the job resource sees change (lease renewals and checkpoints are not news)."""
    return (job.status, job.progress, job.stage, job.eta_s, job.cost_usd, job.error_code, job.outputs)


class JobUpdates:
    """Who watches which job, and the one task that tells them when it changes."""

    def __init__(self, bus: SubscriptionBus) -> None:
        self._bus = bus
        self._listening: Counter[str] = Counter()  # job URI -> open `subscriptions/listen` streams naming it
        self._sessions: dict[str, weakref.WeakSet[Connection]] = {}  # job URI -> legacy subscribers
        self._pending: dict[str, Job] = {}
        self._told: dict[str, tuple[Any, ...]] = {}  # job id -> the state last told
        self._wake = anyio.Event()

    def install(self, mcp: MCPServer) -> None:
        # The legacy methods go on the low-level server: MCPServer has no public seam for spec methods
        # the 2026 revision removed (the SDK's own advice for re-providing them).
        low = mcp._lowlevel_server  # noqa: SLF001
        low.add_request_handler("resources/subscribe", SubscribeRequestParams, self._subscribe)
        low.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, self._unsubscribe)
        mcp.middleware.append(self._watch_listen)

    # -- who watches -------------------------------------------------------------------------------
    def _watched(self, uri: str) -> bool:
        return self._listening[uri] > 0 or bool(self._sessions.get(uri))

    async def _subscribe(self, ctx: ServerRequestContext[Any, Any], params: SubscribeRequestParams) -> dict[str, Any]:
        uri = str(params.uri)
        if uri.startswith(JOB_URI):  # only a job's own resource is followed; the lists are read on demand
            self._sessions.setdefault(uri, weakref.WeakSet()).add(_connection(ctx))
            self._wake.set()
        return {}

    async def _unsubscribe(self, ctx: ServerRequestContext[Any, Any],
                           params: UnsubscribeRequestParams) -> dict[str, Any]:
        uri = str(params.uri)
        self._sessions.get(uri, weakref.WeakSet()).discard(_connection(ctx))
        self._forget_unwatched(uri)
        return {}

    async def _watch_listen(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        """Middleware: while a `subscriptions/listen` stream is open (its handler runs for the stream's
        life), the job URIs it names are watched."""
        if ctx.method != "subscriptions/listen" or ctx.request_id is None:
            return await call_next(ctx)
        try:
            wanted = SubscriptionsListenRequestParams.model_validate(ctx.params or {}).notifications
            uris = [u for u in wanted.resource_subscriptions or () if u.startswith(JOB_URI)]
        except ValidationError:
            uris = []  # the SDK's own validation answers it
        self._listening.update(uris)
        self._wake.set()
        try:
            return await call_next(ctx)
        finally:
            self._listening.subtract(uris)
            for uri in uris:
                self._forget_unwatched(uri)

    def _forget_unwatched(self, uri: str) -> None:
        if not self._watched(uri):
            self._listening.pop(uri, None)
            self._sessions.pop(uri, None)
            self._told.pop(uri.removeprefix(JOB_URI), None)

    # -- telling them ------------------------------------------------------------------------------
    def changed(self, job: Job) -> None:
        """The runner's listener (called on the event loop for each write of a job driven here)."""
        if self._watched(job.uri):
            self._pending[job.id] = job
            self._wake.set()

    async def serve(self, studio: Studio) -> None:
        """Tell subscribers of every change until cancelled (run in the server's lifespan)."""
        studio.runner.listeners.append(self.changed)
        try:
            while True:
                remote = self._driven_elsewhere(studio)
                with anyio.move_on_after(REMOTE_WATCH_S if remote else math.inf):
                    await self._wake.wait()
                self._wake = anyio.Event()
                for job_id in remote:
                    if job_id in self._pending:
                        continue
                    job = studio.store.get(job_id)
                    if job is None:
                        self._told[job_id] = _GONE
                    else:
                        self._pending[job_id] = job
                await self._tell()
        finally:
            studio.runner.listeners.remove(self.changed)

    def _driven_elsewhere(self, studio: Studio) -> list[str]:
        """Watched jobs not yet ended whose changes this process's runner does not see."""
        for uri in [u for u, s in self._sessions.items() if not s]:  # every subscriber's client went away
            self._forget_unwatched(uri)
        uris = {u for u, n in self._listening.items() if n > 0} | {u for u, s in self._sessions.items() if s}
        ids = (u.removeprefix(JOB_URI) for u in uris)
        return [i for i in ids if not studio.runner.is_active(i) and not _ended(self._told.get(i))]

    async def _tell(self) -> None:
        pending, self._pending = self._pending, {}
        for job in pending.values():
            state = _seen(job)
            if self._told.get(job.id) == state or not self._watched(job.uri):
                continue
            self._told[job.id] = state
            await self._bus.publish(ResourceUpdated(uri=job.uri))
            for connection in list(self._sessions.get(job.uri, ())):
                try:
                    with anyio.fail_after(SEND_TIMEOUT_S):
                        await connection.send_resource_updated(job.uri)
                except Exception:  # the client went away (or stopped reading): it hears nothing more
                    log.debug("dropped a legacy subscriber of %s", job.uri, exc_info=True)
                    self._sessions[job.uri].discard(connection)


def _ended(state: tuple[Any, ...] | None) -> bool:
    return state is not None and (state is _GONE or state[0].terminal)


#: What was told of a watched job id that has no row (never existed, or pruned): nothing to watch.
_GONE: tuple[Any, ...] = ("gone",)


def _connection(ctx: ServerRequestContext[Any, Any]) -> Connection:
    """The client's connection: `ctx.session` is a fresh wrapper per request, so a subscription must
    hold the connection itself (weakly: a client gone is a subscriber gone). The SDK has no public
    accessor for it on a request context."""
    return ctx.session._connection  # noqa: SLF001

