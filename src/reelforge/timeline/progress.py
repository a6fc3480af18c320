"""One monotonic progress fraction for a render made of many weighted ffmpeg steps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

ProgressFn = Callable[[float], Awaitable[None]]


class ProgressTracker:
    """Combines the fractions of weighted steps (some running at once) into one, never decreasing."""

    def __init__(self, report: ProgressFn | None, total_weight: float) -> None:
        self._report = report
        self._total = max(total_weight, 1e-9)
        self._parts: dict[int, float] = {}
        self._weights: dict[int, float] = {}
        self._last = 0.0

    def step(self, weight: float) -> ProgressFn:
        """A progress callback for one step of `weight`; call it with the step's own fraction."""
        sid = len(self._weights)
        self._weights[sid] = weight
        self._parts[sid] = 0.0

        async def update(fraction: float) -> None:
            self._parts[sid] = max(self._parts[sid], min(1.0, fraction))
            await self._emit()

        return update

    async def _emit(self) -> None:
        done = sum(self._weights[s] * f for s, f in self._parts.items()) / self._total
        done = min(1.0, done)
        if self._report is not None and done > self._last:
            self._last = done
            await self._report(done)

    async def finish(self) -> None:
        """Report completion (1.0) once everything, including untracked work, is done."""
        if self._report is not None and self._last < 1.0:
            self._last = 1.0
            await self._report(1.0)
