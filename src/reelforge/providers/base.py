"""The provider protocol: one package per provider behind these two shapes.

* `RemoteProvider`: a paid API with a job model. Its public `submit`, `poll`, `cancel` and
  `download` are template methods that apply the shared policy once, for every adapter:
  - credentials are checked before any request (`MissingCredentials` names the variables);
  - `submit` sends exactly one create request and returns the provider's job id; it is never
    retried (the runner commits the job row before calling it and stores the id right after);
  - reads (`poll`, `cancel`, uploads, downloads) are retried on 429/5xx with backoff and
    `Retry-After` through `providers.http.send`; non-2xx answers are mapped by the adapter's
    `_error_map` in that one place;
  - a status word the adapter does not know is *not* a failure: the job may still be running and
    billing, so it reads as RUNNING with the raw word shown, logged once, and the poll loop's time
    budget (`REELFORGE_MAX_POLL_SECONDS`) bounds it;
  - an expired output link is refreshed by reading the job again, once, here and only here.
  The adapter implements small private hooks: `_create_request`, `_read_job`, `_status_word`,
  `_parse_status`, optionally `_cancel_request`, `_error_map`, `_download_headers`.
* `LocalProvider`: an in-process renderer (the CPU `preview`, the local GPU backend). Its work is
  free and deterministic, so after a restart the runner simply renders again.

Adapters never decide policy (budgets, retries of creates, routing).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from reelforge.errors import (CannotRecover, InvalidRequest, MissingCredentials, OutcomeUnknown, ProviderFailure,
                              ReelforgeError)

if TYPE_CHECKING:
    import httpx

    from reelforge.catalog import ModelEntry
    from reelforge.generation_spec import GenerationSpec
    from reelforge.providers.declaration import Declaration
    from reelforge.providers.http import ErrorMap, RetryPolicy
    from reelforge.settings import Settings

log = logging.getLogger(__name__)
#: Largest last-frame still accepted (a 4K PNG is about 25 MB).
LAST_FRAME_MAX_BYTES = 64 * 1024 * 1024

#: progress(fraction 0..1 or None when unknown, short stage message)
ProgressFn = Callable[[float | None, str], Awaitable[None]]


class RemoteState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self in (RemoteState.SUCCEEDED, RemoteState.FAILED, RemoteState.CANCELED)


@dataclass
class RemoteStatus:
    """One poll's answer, in our vocabulary."""

    state: RemoteState
    #: The provider's own progress (0..1) when it reports one; never invented.
    progress: float | None = None
    output_urls: list[str] = field(default_factory=list)
    #: Set when state is FAILED: the mapped, actionable error.
    error: ReelforgeError | None = None
    #: The provider's own failure code when state is FAILED (Runway's `failureCode`), read against the
    #: catalog's `failed_not_charged` before a job falls back after the provider accepted it.
    failure_code: str | None = None
    #: The provider's own status spelling, for logs and receipts.
    raw_status: str | None = None
    #: Seconds the provider asked us to wait before the next poll (Retry-After).
    poll_after: float | None = None
    #: Provider-reported cost in USD when the API returns one.
    cost_usd: float | None = None
    #: The job this status was read from (set by `RemoteProvider.poll`), so `download` can
    #: refresh an expired output link.
    remote_id: str | None = None
    #: The provider's own still of the last frame, where the API returns one (Seedance's
    #: `return_last_frame`): lossless, so `extend_video` continues from it rather than a decoded frame.
    last_frame_url: str | None = None


#: The ledger job a create request is sent for, set by the studio around `submit`. An adapter whose API
#: takes a client reference that a lost create can later be looked up by (Kling's external_task_id)
#: sends it; the others ignore it.
creating_for: ContextVar[str | None] = ContextVar("reelforge_creating_for", default=None)


@dataclass(frozen=True)
class LostCreate:
    """A create whose answer never arrived (the job ended `unknown`): what it asked for, and when.
    The provider may have started (and billed) one job for it between `sent_after` and `sent_before`."""

    job_id: str
    spec: GenerationSpec
    sent_after: float  # epoch seconds: the ledger row existed before the request was sent
    sent_before: float  # epoch seconds: the job was marked unknown after it

    def in_window(self, created_at: float, slack_s: float = 5.0) -> bool:
        """Whether a remote job created at `created_at` (the provider's clock) could be this create's."""
        return self.sent_after - slack_s <= created_at <= self.sent_before + slack_s


def iso_epoch(stamp: Any) -> float | None:
    """A provider's ISO-8601 time (`2026-12-02T01:02:03.456Z`) as epoch seconds; None when unreadable."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def single_match(candidates: list[str], provider: str) -> str | None:
    """The one remote id a lost create matches; None when none does. Two or more are ambiguous: adopting
    the wrong one would pay for a job twice or show the user someone else's video, so none is taken."""
    if len(candidates) > 1:
        raise OutcomeUnknown(
            f"{len(candidates)} jobs at {provider} match this request ({', '.join(candidates)}); reelforge will not "
            "guess which one is this job's.", hint="Check them on the provider's dashboard.")
    return candidates[0] if candidates else None


class Provider(ABC):
    """Common construction: settings, an optional shared HTTP client (the testing seam)."""

    name: ClassVar[str]

    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self._http = http

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release provider resources (the shared HTTP client is closed by its owner)."""

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        """Snap a catalog-checked spec to the model's exact rules (frame counts, size multiples).

        Returns the spec to use and one human-readable note per change, so the caller can report
        it ("duration 5 s -> 121 frames at 24 fps = 5.04 s"). Never drops a parameter silently.
        """
        return spec, []


class LocalProvider(Provider):
    @abstractmethod
    async def render(self, spec: GenerationSpec, model: ModelEntry, dest: Path, progress: ProgressFn) -> None:
        """Write the clip for `spec` to `dest` (atomically). Cancelled through the anyio scope."""

    def check_available(self, model: ModelEntry) -> None:  # noqa: B027 - optional hook
        """Raise `LocalBackendUnavailable` when this model cannot run here."""


class RemoteProvider(Provider):
    """A paid job API: public template methods here, wire-format hooks in the adapter."""

    #: The provider package's declaration; sets `name` and `title` (see `__init_subclass__`).
    declaration: ClassVar[Declaration]
    #: How messages name the provider ("Runway", "MiniMax").
    title: ClassVar[str]
    #: The provider's status spellings -> our states. A word not listed reads as RUNNING.
    states: ClassVar[Mapping[str, RemoteState]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declaration = cls.__dict__.get("declaration")
        if declaration is not None:
            cls.name = declaration.name
            if "title" not in cls.__dict__:
                cls.title = declaration.title

    def __init__(self, settings: Settings, http: httpx.AsyncClient | None = None, *,
                 retry: RetryPolicy | None = None) -> None:
        from reelforge.providers.http import policy_from_settings

        super().__init__(settings, http)
        self.retry = retry or policy_from_settings(settings)
        self._unknown_logged: set[tuple[str, str]] = set()

    # --- public template methods (the studio calls these) ------------------------------------------

    async def submit(self, spec: GenerationSpec, model: ModelEntry) -> str:
        """Send exactly one create request; return the provider's job id."""
        self.require_credentials(model)
        remote_id = await self._create_request(spec, model)
        log.info("%s job %s created (%s)", self.name, remote_id, model.key)
        return remote_id

    async def find_lost(self, lost: LostCreate, model: ModelEntry) -> str | None:
        """The remote id of the one job a lost create started, from the provider's list or lookup; None
        when no job matches (nothing was started). Providers that cannot list say so (the default)."""
        raise CannotRecover(
            f"{self.title}'s API cannot list or look up jobs, so reelforge cannot find a job whose create answer "
            "was lost.", hint=f"Check the {self.title} dashboard; a job found there is billed and can be downloaded there.")

    async def poll(self, remote_id: str, model: ModelEntry) -> RemoteStatus:
        """Read the job's state once (the read itself is retried on 429/5xx)."""
        self.require_credentials(model)
        try:
            job = await self._read_job(remote_id, model)
        except ReelforgeError as exc:
            if exc.retryable:
                exc.message = (
                    f"Reading the status of {self.title} job {remote_id} failed: {exc.message} "
                    "The job may still be running there; it was not submitted again."
                )
            raise
        raw = self._status_word(job)
        state = self._state_of(raw, model)
        if state is None:
            return self._unknown_state(remote_id, raw)
        status = await self._parse_status(job, state, remote_id, model)
        status.remote_id = remote_id
        if status.raw_status is None:
            status.raw_status = raw
        return status

    async def cancel(self, remote_id: str, model: ModelEntry) -> None:
        """Ask the provider to stop the job; safe to repeat, and a job already gone is fine."""
        self.require_credentials(model)
        try:
            await self._cancel_request(remote_id, model)
        except InvalidRequest as exc:
            log.info("%s cancel of %s: %s", self.name, remote_id, exc)

    async def download(self, status: RemoteStatus, model: ModelEntry, dest: Path) -> None:
        """Fetch the first output to `dest` (atomically, size- and type-checked).

        Signed links expire: on an expired link the job is read again, once, for a fresh one
        (never a new job). Callers call this once; the refresh lives only here.
        """
        from reelforge.providers.http import OutputUrlExpired

        try:
            await self._fetch(status, dest)
        except OutputUrlExpired:
            if status.remote_id is None:
                raise
            log.info("%s output link expired; reading job %s again for a fresh one", self.name, status.remote_id)
            fresh = await self.poll(status.remote_id, model)
            if fresh.state is not RemoteState.SUCCEEDED:
                raise
            await self._fetch(fresh, dest)

    async def download_last_frame(self, status: RemoteStatus, dest: Path) -> bool:
        """Fetch the provider's last-frame still to `dest`; False when there is none or it cannot be
        had (it is a convenience: the video is the result, and extend can extract the frame from it)."""
        from dataclasses import replace

        from reelforge.providers.download import download_limits, fetch_video

        if not status.last_frame_url:
            return False
        limits = replace(download_limits(self.settings), image=True, max_bytes=LAST_FRAME_MAX_BYTES)
        try:
            await fetch_video(self.client, status.last_frame_url, dest, headers=self._download_headers(),
                              limits=limits, provider=self.title, policy=self.retry)
        except ReelforgeError as exc:
            log.info("%s last frame of job %s not kept (%s); extend will extract it from the video", self.title,
                     status.remote_id, exc.code)
            return False
        return True

    # --- hooks the adapter implements ----------------------------------------------------------------

    @abstractmethod
    async def _create_request(self, spec: GenerationSpec, model: ModelEntry) -> str:
        """Upload inputs if needed, send the one create request, return the job id."""

    @abstractmethod
    async def _read_job(self, remote_id: str, model: ModelEntry) -> Any:
        """Read the job object (a retried read)."""

    @abstractmethod
    def _status_word(self, job: Any) -> str:
        """The provider's status spelling in a job object."""

    @abstractmethod
    async def _parse_status(self, job: Any, state: RemoteState, remote_id: str, model: ModelEntry) -> RemoteStatus:
        """The job in our vocabulary, for a known `state` (outputs, progress, the mapped failure)."""

    def _state_of(self, raw: str, model: ModelEntry) -> RemoteState | None:
        """Our state for a status word, None when the word is unknown (adapters with two APIs override)."""
        return self.states.get(raw)

    async def _cancel_request(self, remote_id: str, model: ModelEntry) -> None:
        """Send the cancel; the default is for APIs without one (the job runs on, and is billed)."""
        log.info("%s has no cancel endpoint; job %s keeps running on its side", self.title, remote_id)

    def _error_map(self) -> ErrorMap:
        """Map a non-2xx response to a `ReelforgeError` (adapters refine the shared classification)."""
        from reelforge.providers.http import status_error_map

        return status_error_map(self.title)

    def _download_headers(self) -> dict[str, str]:
        """Headers for fetching outputs; most CDNs need none."""
        return {}

    # --- shared plumbing for the hooks -----------------------------------------------------------------

    def require_credentials(self, model: ModelEntry | None = None) -> None:
        """Raise `MissingCredentials` naming every required variable that is unset."""
        missing = tuple(v.name for v in self.declaration.required if self._value(v.name, v.secret) is None
                        and (v.alternative is None or self._value(v.alternative, v.secret) is None))
        if missing:
            raise MissingCredentials(self.title, missing)

    def credential(self, name: str) -> str:
        """A declared credential's value (registered for redaction), or `MissingCredentials`."""
        value = self._value(name, self.declaration.variable(name).secret)
        if value is None:
            raise MissingCredentials(self.title, name)
        return value

    def base_url(self, name: str) -> str:
        """A declared URL variable's value, else its declared default (no trailing slash)."""
        value = self.settings.provider_value(name) or self.declaration.variable(name).default or ""
        return value.rstrip("/")

    def _value(self, name: str, secret: bool) -> str | None:
        return self.settings.key_for(name) if secret else self.settings.provider_value(name)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._http is None:
            from reelforge.providers.http import shared_client

            self._http = shared_client()
        return self._http

    async def _send_create(self, url: str, body: Mapping[str, Any], headers: Mapping[str, str],
                           *, id_field: str = "id") -> tuple[str, dict[str, Any]]:
        """Send one create request (never retried); return the new job's id and the whole answer.

        A 2xx answer without a readable id means a job may exist that we cannot name:
        `OutcomeUnknown`, never a reason to send again.
        """
        from reelforge.providers.http import DO_NOT_RESUBMIT, send

        response = await send(self.client, "POST", url, json=body, headers=headers, retry_reads=False,
                              expect_json=True, error_map=self._error_map(), provider=self.title, policy=self.retry)
        answer = response.json()
        remote_id = answer.get(id_field) if isinstance(answer, dict) else None
        if not isinstance(remote_id, str) or not remote_id:
            raise OutcomeUnknown(
                f"{self.title} accepted the create request but its answer has no job id, so the job cannot "
                "be followed (it may have been started and billed).",
                hint=DO_NOT_RESUBMIT,
            )
        return remote_id, answer

    async def _send_read(self, method: str, url: str, headers: Mapping[str, str], **kw: Any) -> dict[str, Any] | None:
        """A retried read or idempotent call; returns the JSON object, or None for an empty body."""
        from reelforge.providers.http import send

        response = await send(self.client, method, url, headers=headers, retry_reads=True,
                              expect_json=method == "GET", error_map=self._error_map(), provider=self.title,
                              policy=self.retry, **kw)
        if not response.content:
            return None
        body = response.json()
        if not isinstance(body, dict):
            raise ProviderFailure(f"{self.title} answered with an unexpected JSON shape ({type(body).__name__}).")
        return body

    # --- private ------------------------------------------------------------------------------------------

    def _unknown_state(self, remote_id: str, raw: str) -> RemoteStatus:
        """The one rule for a status word we do not know: still running (maybe billing), shown raw."""
        if (remote_id, raw) not in self._unknown_logged:
            self._unknown_logged.add((remote_id, raw))
            log.warning("%s job %s reports an unknown status %r; treating it as running until it ends or the "
                        "poll budget runs out", self.title, remote_id, raw[:40])
        return RemoteStatus(RemoteState.RUNNING, raw_status=raw[:40], remote_id=remote_id)

    async def _fetch(self, status: RemoteStatus, dest: Path) -> None:
        from reelforge.providers.download import download_limits, fetch_video

        if not status.output_urls:
            raise ProviderFailure(f"{self.title} reported success but returned no output file.")
        await fetch_video(self.client, status.output_urls[0], dest, headers=self._download_headers(),
                          limits=download_limits(self.settings), provider=self.title, policy=self.retry)
