"""Who is asking: the user of the current call (a tiers-file user over HTTP; None on stdio and the CLI).

The surface sets it around one call (`acting_as`); the studio reads it where a user changes the
outcome: the tier's limits before the ledger row, the user's own provider keys when planning, and
the job row's `user_id` (the runner then drives the job with that user's keys, whatever process
runs it). A context variable, so it follows the call into the worker thread that prepares it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_current: ContextVar[str | None] = ContextVar("reelforge_caller", default=None)


@contextmanager
def acting_as(user: str | None) -> Iterator[None]:
    token = _current.set(user)
    try:
        yield
    finally:
        _current.reset(token)


def current_user() -> str | None:
    return _current.get()
