"""The studio: what every operation shares while it runs (settings, catalog, ledger, runner,
provider adapters, the render and media queues), and waiting on or canceling a job.

The path of a request is cut by operation and by policy, one module each:

    tool request → <operation>.prepare (planning, catalog_check, pricing; no side effects)
                 → launch (reattach, budget, ledger row, runner) → <operation>.run (steps, artifacts)

`operations.py` names the operations and opens a studio with them. This module imports none of
them: each operation imports the studio, never the reverse.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from reelforge.jobs.job import Job, JobKind
from reelforge.jobs.runner import Handler, JobContext, Runner
from reelforge.jobs.store import JobStore
from reelforge.providers.registry import load_catalog, make_provider, rate_limit_defaults
from reelforge.settings import Settings
from reelforge.studio.artifacts import sweep_partials
from reelforge.tiers import TiersConfig, decrypt_keys, load_tiers

if TYPE_CHECKING:
    from reelforge.providers.base import Provider

#: Longest quiet spell in a wait before its caller hears from it (a progress heartbeat).
HEARTBEAT_S = 5.0
#: One operation's work: run the job in `JobContext` for this studio, resumable from its checkpoints.
RunFn = Callable[["Studio", JobContext], Awaitable[None]]


class Studio:
    def __init__(self, settings: Settings, runs: Mapping[JobKind, RunFn], *, http: object = None,
                 resume: bool = True) -> None:
        settings.ensure_dirs()
        self.settings = settings
        self.catalog = load_catalog()
        self.store = JobStore.open(settings)
        # Every server on a ledger resumes and takes over the jobs no live process drives, claiming each
        # through its lease (one winner per job); the CLI drives only its own jobs.
        self.runner = Runner(self.store, {kind: self._bind(run) for kind, run in runs.items()}, resume=resume,
                             lease_s=settings.job_lease_s, tidy=lambda job_id: sweep_partials(settings.outputs / job_id),
                             engine=settings, rate_defaults=rate_limit_defaults(self.catalog, settings))
        #: One render at a time per local provider (the CPU for preview, the GPU for local); a preview
        #: never waits behind a long GPU job.
        self._render_limiters: dict[str, anyio.CapacityLimiter] = {}
        #: One ffmpeg post-process (join, loop, compose) at a time: x264 already uses every core.
        self.media_limiter = anyio.CapacityLimiter(1)
        self._http = http
        self._providers: dict[tuple[str, str | None], Provider] = {}
        #: The latest read of provider health from the ledger (studio/health.py caches it here; a
        #: generation ending in this process makes it stale at once).
        self.health_cache: object = None
        self.runner.listeners.append(self._forget_health)

    def _forget_health(self, job: Job) -> None:
        if job.kind == "generate" and job.status.terminal:
            self.health_cache = None

    def _bind(self, run: RunFn) -> Handler:
        async def handler(ctx: JobContext) -> None:
            await run(self, ctx)

        return handler

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        if self._providers:
            from reelforge.providers.http import close_shared_client

            await close_shared_client()  # release pooled connections at shutdown
        self.store.close()

    def provider(self, name: str, user: str | None = None) -> Provider:
        """The adapter for `name`, with `user`'s own provider keys (tiers file) before the server's."""
        if (name, user) not in self._providers:
            self._providers[(name, user)] = make_provider(name, self.settings_for(user), self._http)  # type: ignore[arg-type]
        return self._providers[(name, user)]

    def tiers(self) -> TiersConfig | None:
        """The tiers file in effect (re-read when it changes), or None on a single-user server."""
        return None if self.settings.tiers_file is None else load_tiers(self.settings.tiers_file)

    def settings_for(self, user: str | None) -> Settings:
        """Settings with `user`'s own provider keys layered over the server's (decrypted here only)."""
        tiers = self.tiers()
        entry = tiers.users.get(user) if tiers is not None and user is not None else None
        if entry is None or not entry.keys:
            return self.settings
        secret = self.settings.secret_key.get_secret_value() if self.settings.secret_key else None
        return self.settings.with_provider_env(**decrypt_keys(entry, secret))

    def render_limiter(self, provider: str) -> anyio.CapacityLimiter:
        return self._render_limiters.setdefault(provider, anyio.CapacityLimiter(1))

    def job_dir(self, job_id: str) -> Path:
        path = self.settings.outputs / job_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    async def wait(self, job_id: str, seconds: float, on_change: Callable[[Job], Awaitable[None]] | None = None) -> Job:
        """Wait up to `seconds` for the job to end, calling `on_change` as it moves."""
        deadline = anyio.current_time() + seconds
        job = self.store.require(job_id)
        beat = anyio.current_time()
        while not job.status.terminal:
            left = deadline - anyio.current_time()
            if left <= 0:
                break
            await self.runner.wait_change(job_id, timeout=min(left, HEARTBEAT_S))
            seen, job = job, self.store.require(job_id)
            # A job driven elsewhere is re-read often: call back on a change, or as a heartbeat.
            if on_change is not None and (job != seen or anyio.current_time() - beat >= HEARTBEAT_S):
                beat = anyio.current_time()
                await on_change(job)
        return job

    async def cancel(self, job_id: str) -> Job:
        """Cancel a job and its unfinished step jobs (a canceled extend must not keep paying for its step)."""
        await self.runner.cancel(job_id)
        for child in self.store.children(job_id):
            if child.kind == "generate" and not child.status.terminal:
                await self.runner.cancel(child.id)
        return self.store.require(job_id)
