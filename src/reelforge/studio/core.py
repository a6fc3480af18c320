"""The studio: the one path from a request to a finished job, shared by the server and the CLI.

request → route → check against the catalog → quote → budget → ledger row → runner → result.
Everything that can refuse a request (bad input, unsupported parameter, missing key, budget,
unconfirmed cost) happens before the ledger row exists, so a refusal never costs money.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from reelforge.catalog import ModelEntry
from reelforge.errors import BudgetExceeded, ConfirmationRequired, InvalidRequest, UnsupportedParameter
from reelforge.jobs.job import Job, JobKind, JobStatus
from reelforge.jobs.runner import Runner
from reelforge.jobs.store import JobStore, check_same_request
from reelforge.providers.base import LocalProvider, Provider
from reelforge.providers.registry import load_catalog, make_provider, missing_credentials
from reelforge.generation_spec import GenerationSpec, MediaRef
from reelforge.security import check_local_path, resolve_media
from reelforge.settings import Settings
from reelforge.studio.artifacts import sweep_partials
from reelforge.studio.models import CallOptions, GenerationOptions, VideoSource
from reelforge.studio.pricing import Quote, quote
from reelforge.studio.routing import choose_provider, default_model_for
from reelforge.studio.validate import build_spec, input_kinds, resolve_model

log = logging.getLogger(__name__)

#: A repeated identical request within this window re-attaches to the first job.
DUPLICATE_WINDOW_S = 120.0


@dataclass
class Plan:
    """A checked, quoted generation, ready to become a job row."""

    spec: GenerationSpec
    model: ModelEntry
    quote: Quote
    notes: list[str] = field(default_factory=list)

    @property
    def eta_s(self) -> float:
        """Honest first guess: the model's typical time scaled by length (and, for renders on this
        machine, by pixels). Replaced by the observed rate once progress is reported."""
        scale = self.spec.duration_s / max(self.model.capabilities.durations.default, 0.1)
        if self.model.provider in ("preview", "local"):
            scale *= (self.spec.width * self.spec.height) / (1280 * 720)
        return round(self.model.typical_seconds * max(scale, 0.2), 1)

    def to_state(self) -> dict[str, Any]:
        return {"spec": self.spec.model_dump(mode="json"), "quote": self.quote.model_dump(mode="json"), "notes": self.notes}


class Studio:
    def __init__(self, settings: Settings, *, http: Any = None, resume: bool = True) -> None:
        from reelforge.studio import handlers

        settings.ensure_dirs()
        self.settings = settings
        self.catalog = load_catalog()
        self.store = JobStore(settings.ledger)
        # Every server on a ledger resumes and takes over the jobs no live process drives, claiming each
        # through its lease (one winner per job); the CLI drives only its own jobs.
        self.runner = Runner(self.store, handlers.handlers_for(self), resume=resume, lease_s=settings.job_lease_s,
                             tidy=lambda job_id: sweep_partials(settings.outputs / job_id))
        #: One render at a time per local provider (the CPU for preview, the GPU for local); a preview
        #: never waits behind a long GPU job.
        self._render_limiters: dict[str, anyio.CapacityLimiter] = {}
        #: One ffmpeg post-process (join, loop, compose) at a time: x264 already uses every core.
        self.media_limiter = anyio.CapacityLimiter(1)
        self._http = http
        self._providers: dict[str, Provider] = {}

    async def aclose(self) -> None:
        for provider in self._providers.values():
            await provider.aclose()
        if self._providers:
            from reelforge.providers.http import close_shared_client

            await close_shared_client()  # release pooled connections at shutdown
        self.store.close()

    def provider(self, name: str) -> Provider:
        if name not in self._providers:
            self._providers[name] = make_provider(name, self.settings, self._http)
        return self._providers[name]

    def render_limiter(self, provider: str) -> anyio.CapacityLimiter:
        return self._render_limiters.setdefault(provider, anyio.CapacityLimiter(1))

    def job_dir(self, job_id: str) -> Path:
        path = self.settings.outputs / job_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    # -- planning (no side effects) ---------------------------------------------------------------
    def plan(self, opts: GenerationOptions, *, first: MediaRef | None = None, last: MediaRef | None = None,
             video: MediaRef | None = None, loop: bool = False, continue_remote_id: str | None = None,
             direction: str = "forward", provider: str | None = None) -> Plan:
        kinds = input_kinds(first, last, video if continue_remote_id is None else None)
        name = provider or choose_provider(self.catalog, self.settings, opts.provider, kinds)
        entry = self.catalog.providers[name]
        notes: list[str] = []
        if opts.model is None:
            model = default_model_for(entry, kinds)
            if model is None:
                accepted = sorted({k for m in entry.models for k in m.capabilities.inputs})
                raise UnsupportedParameter(
                    f"No {name} model accepts {', '.join(kinds)} input; {name} models accept: {', '.join(accepted)}.",
                    param="video" if "video" in kinds else "provider",
                    hint="Pick another provider or model with list_models.")
        else:
            model, notes = resolve_model(self.catalog, name, opts.model)
        missing = missing_credentials(name, self.settings)
        if missing is not None:
            raise missing
        spec = build_spec(opts, model, first_frame=first, last_frame=last, video=video, loop=loop,
                          continue_remote_id=continue_remote_id, continue_direction=direction)
        adapter = self.provider(name)
        spec, snapped = adapter.normalize(spec, model)
        if isinstance(adapter, LocalProvider):
            adapter.check_available(model)
        return Plan(spec, model, quote(spec, model), notes + snapped)

    def resolve_image(self, value: str | None, param: str) -> MediaRef | None:
        return None if value is None else resolve_media(value, self.settings, param=param, expected="image")

    def resolve_video(self, value: str | None, param: str) -> MediaRef | None:
        return None if value is None else resolve_media(value, self.settings, param=param, expected="video")

    def resolve_source(self, source: VideoSource) -> tuple[Path, Job | None]:
        """A clip to work on: a finished job's output, or an allowed local file."""
        if source.job_id is not None:
            job = self.store.require(source.job_id)
            if job.status is not JobStatus.SUCCEEDED or not job.outputs.get("path"):
                raise InvalidRequest(
                    f"Job {job.id} is {job.status.value}, not finished; its output cannot be used yet.",
                    param="source.job_id", hint=f"Wait with get_job('{job.id}', wait_seconds=40).",
                )
            return Path(job.outputs["path"]), job
        assert source.path is not None
        return check_local_path(source.path, self.settings, param="source.path"), None

    # -- money ------------------------------------------------------------------------------------
    def check_budget(self, usd: float, call: CallOptions, what: str) -> None:
        s = self.settings
        if s.max_cost_per_call_usd is not None and usd > s.max_cost_per_call_usd:
            raise BudgetExceeded(
                f"{what} is quoted at ${usd:.2f}, above the per-call limit of ${s.max_cost_per_call_usd:.2f} "
                "(REELFORGE_MAX_COST_PER_CALL_USD).", hint="Choose a shorter clip, lower resolution or cheaper model.")
        if s.max_cost_per_day_usd is not None and usd > 0:
            day_start = time.time() - (time.time() % 86400)
            spent = self.store.spent_since(day_start)
            if spent + usd > s.max_cost_per_day_usd:
                raise BudgetExceeded(
                    f"{what} (${usd:.2f}) would bring today's spend to ${spent + usd:.2f}, above the daily limit "
                    f"of ${s.max_cost_per_day_usd:.2f} (REELFORGE_MAX_COST_PER_DAY_USD).")
        if usd > s.confirm_above_usd and not call.confirm:
            raise ConfirmationRequired(
                f"{what} costs about ${usd:.2f}, above the confirmation threshold of ${s.confirm_above_usd:.2f}.",
                hint="Tell the user the price; if they agree, call again with confirm=true.")

    # -- creating jobs ----------------------------------------------------------------------------
    @staticmethod
    def request_digest(kind: str, request: dict[str, Any], parents: list[str]) -> str:
        return hashlib.sha256(json.dumps([kind, request, parents], sort_keys=True, default=str).encode()).hexdigest()

    @staticmethod
    def call_digest(kind: str, request: dict[str, Any], parents: list[str], call: CallOptions) -> str:
        """What the caller asked for: the tool's arguments, less the options of the call itself. The
        normalised request cannot serve: it holds a seed drawn afresh for each call."""
        asked = call.model_dump(mode="json", exclude=set(CallOptions.model_fields))
        return hashlib.sha256(json.dumps([kind, asked or request, parents], sort_keys=True, default=str).encode()).hexdigest()

    def existing_for(self, kind: str, request: dict[str, Any], parents: list[str], call: CallOptions | None) -> Job | None:
        """The job a repeated call re-attaches to (same idempotency key, or the same request moments ago).
        A key already used for a different request is refused (`IdempotencyConflict`)."""
        if call is None:
            return None
        if call.idempotency_key:
            existing = self.store.find_by_idempotency_key(call.idempotency_key)
            if existing is not None:
                check_same_request(existing, call.idempotency_key, self.call_digest(kind, request, parents, call))
                return self.reattach(existing, f"idempotency_key '{call.idempotency_key}' matches job {existing.id}; "
                                               "no new job was started.")
        dup = self.store.find_recent_duplicate(self.request_digest(kind, request, parents), DUPLICATE_WINDOW_S)
        if dup is not None:
            return self.reattach(dup, f"an identical {kind} request started job {dup.id} moments ago; re-attached "
                                      "to it instead of paying twice (change the request or pass a new "
                                      "idempotency_key to make another).")
        return None

    def create_job(self, kind: JobKind, *, request: dict[str, Any], call: CallOptions | None, quote_usd: float,
                   quote_detail: dict[str, Any] | None, provider: str | None, model: str | None,
                   parents: list[str], notes: list[str], eta_s: float | None,
                   state: dict[str, Any] | None = None) -> Job:
        """Commit the job row, then start it. Repeats re-attach instead of paying twice."""
        existing = self.existing_for(kind, request, parents, call)
        if existing is not None:
            return existing
        job = Job(kind=kind, request=request, quote_usd=quote_usd, quote=quote_detail, provider=provider,
                  model=model, parents=parents, notes=notes, idempotency_key=call.idempotency_key if call else None,
                  request_hash=self.request_digest(kind, request, parents), eta_s=eta_s, state=state or {},
                  call_hash=self.call_digest(kind, request, parents, call) if call and call.idempotency_key else None,
                  **self.runner.lease_fields())
        stored = self.store.insert(job)
        if stored.id != job.id:  # another process took this idempotency key first: its job, not ours to run
            return self.reattach(stored, f"idempotency_key '{job.idempotency_key}' matches job {stored.id}; "
                                         "no new job was started.")
        self.runner.start(stored.id)
        return stored

    def reattach(self, job: Job, note: str) -> Job:
        from reelforge.studio.redownload import retry_download

        if note not in job.notes:
            job = self.store.update(job.id, notes=[*job.notes, note])
        return retry_download(self, job)  # a paid video whose download failed is fetched again

    def create_generation(self, plan: Plan, *, call: CallOptions | None, parents: list[str],
                          state: dict[str, Any] | None = None) -> Job:
        return self.create_job(
            "generate", request=plan.spec.model_dump(mode="json"), call=call, quote_usd=plan.quote.usd,
            quote_detail=plan.quote.model_dump(mode="json"), provider=plan.model.provider, model=plan.model.id,
            parents=parents, notes=plan.notes, eta_s=plan.eta_s, state=state,
        )

    # -- waiting and control ----------------------------------------------------------------------
    async def wait(self, job_id: str, seconds: float, on_change: Callable[[Job], Awaitable[None]] | None = None) -> Job:
        """Wait up to `seconds` for the job to end, calling `on_change` as it moves."""
        deadline = anyio.current_time() + seconds
        job = self.store.require(job_id)
        while not job.status.terminal:
            left = deadline - anyio.current_time()
            if left <= 0:
                break
            await self.runner.wait_change(job_id, timeout=min(left, 5.0))
            job = self.store.require(job_id)
            if on_change is not None:
                await on_change(job)
        return job

    async def cancel(self, job_id: str) -> Job:
        """Cancel a job and its unfinished step jobs (a canceled extend must not keep paying for its step)."""
        await self.runner.cancel(job_id)
        for child in self.store.children(job_id):
            if child.kind == "generate" and not child.status.terminal:
                await self.runner.cancel(child.id)
        return self.store.require(job_id)
