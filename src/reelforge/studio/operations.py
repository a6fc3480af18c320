"""The operations the studio offers, by job kind: how each request is prepared and how each job runs.

The server and the CLI start work through this table (`OPERATIONS[kind]`); the runner drives each
job with its operation's `run`. Adding an operation is one module with `prepare` and `run`, and
one row here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from reelforge.jobs.job import Job, JobKind
from reelforge.jobs.runner import JobContext
from reelforge.settings import Settings
from reelforge.studio import batch, compose, extend, generate, loop
from reelforge.studio.core import Studio
from reelforge.studio.launch import start
from reelforge.studio.prepared import Prepared


@dataclass(frozen=True)
class Operation:
    kind: JobKind
    prepare: Callable[[Studio, Any], Prepared]
    run: Callable[[Studio, JobContext], Awaitable[None]]

    async def start(self, studio: Studio, request: Any, prepared: Prepared | None = None) -> Job:
        """Prepare (once: an approval question may have prepared it already) and launch."""
        return await start(studio, self.prepare, request, prepared)


OPERATIONS: dict[JobKind, Operation] = {
    "generate": Operation("generate", generate.prepare, generate.run),
    "extend": Operation("extend", extend.prepare, extend.run),
    "loop": Operation("loop", loop.prepare, loop.run),
    "compose": Operation("compose", compose.prepare, compose.run),
    "batch": Operation("batch", batch.prepare, batch.run),
}


def open_studio(settings: Settings, *, http: object = None, resume: bool = True) -> Studio:
    """A studio whose runner drives every operation's jobs."""
    return Studio(settings, {kind: op.run for kind, op in OPERATIONS.items()}, http=http, resume=resume)
