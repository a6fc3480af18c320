"""The studio as the command line opens it: in-process, on the same ledger as any server, driving only
its own jobs. The person at the terminal named the files, so the working directory (and the folder
of a file named on the command line) are allowed input folders too."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from reelforge.errors import ReelforgeError
    from reelforge.settings import Settings
    from reelforge.studio.core import Studio
    from reelforge.studio.prepared import Prepared


def cli_settings(roots: Iterable[Path] = ()) -> Settings:
    from reelforge.settings import Settings

    settings = Settings()
    extra = [Path.cwd(), *(Path(r).resolve() for r in roots)]
    # The command line runs its own jobs only, at once: it takes no other process's work from a queue.
    return settings.model_copy(update={"allowed_input_roots": [*settings.allowed_input_roots, *extra],
                                       "queues": "none"})


def open_cli_studio(roots: Iterable[Path] = ()) -> Studio:
    """A studio whose runner is not serving: for quotes and listings (close its store when done)."""
    from reelforge.studio.operations import open_studio

    return open_studio(cli_settings(roots), resume=False)


async def with_studio(fn: Callable[[Studio], Awaitable[Any]], roots: Iterable[Path] = ()) -> Any:
    """Run `fn` against a serving studio (its runner drives the jobs `fn` starts), then close it."""
    from reelforge.studio.operations import open_studio

    studio = open_studio(cli_settings(roots), resume=False)
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(studio.runner.serve)
            try:
                return await fn(studio)
            finally:
                tg.cancel_scope.cancel()
    finally:
        await studio.aclose()


@dataclass
class NeedsConfirmation:
    """A start refused until the user approves its price: the refusal and the quote to show."""

    refusal: ReelforgeError
    prepared: Prepared


async def start_work(studio: Studio, kind: str, request: Any, *, estimate: bool = False) -> Any:
    """The tools' path: prepare once, then launch (budget, confirmation, ledger row, runner).

    Returns the started `Job`; or the `Prepared` quote when `estimate`; or `NeedsConfirmation`; or
    the `ReelforgeError` that refused it (returned, not raised: a task group would wrap it)."""
    from reelforge.errors import ConfirmationRequired, ReelforgeError
    from reelforge.studio.launch import prepare_off_loop
    from reelforge.studio.operations import OPERATIONS

    operation = OPERATIONS[kind]  # type: ignore[index]
    try:
        prepared = await prepare_off_loop(studio, operation.prepare, request)
        if estimate:
            return prepared
        return await operation.start(studio, request, prepared)
    except ConfirmationRequired as exc:
        return NeedsConfirmation(exc, prepared)
    except ReelforgeError as exc:
        return exc
