"""The provider protocol: one small module per provider behind these two shapes.

* `RemoteProvider`: a paid API with a job model. `submit` sends exactly one create request and
  returns the provider's job id; it is never retried automatically (the runner commits the job
  row before calling it and stores the id right after). `poll` and `cancel` are safe to repeat.
  `download` fetches a finished output at once (provider URLs expire).
* `LocalProvider`: an in-process renderer (the CPU `preview`, the local GPU backend). Its work is
  free and deterministic, so after a restart the runner simply renders again.

Adapters translate a `GenerationSpec` into their wire format and back, and map their errors to
`reelforge.errors` in one place. They never decide policy (budgets, retries of creates, routing).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import httpx

    from reelforge.catalog import ModelEntry
    from reelforge.errors import ReelforgeError
    from reelforge.generation_spec import GenerationSpec
    from reelforge.settings import Settings

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
    #: The provider's own status spelling, for logs and receipts.
    raw_status: str | None = None
    #: Seconds the provider asked us to wait before the next poll (Retry-After).
    poll_after: float | None = None
    #: Provider-reported cost in USD when the API returns one.
    cost_usd: float | None = None


class Provider(ABC):
    """Common construction: settings, an optional shared HTTP client (the testing seam)."""

    name: ClassVar[str]
    local: ClassVar[bool] = False

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
    local = True

    @abstractmethod
    async def render(self, spec: GenerationSpec, model: ModelEntry, dest: Path, progress: ProgressFn) -> None:
        """Write the clip for `spec` to `dest` (atomically). Cancelled through the anyio scope."""

    def check_available(self, model: ModelEntry) -> None:  # noqa: B027 - optional hook
        """Raise `LocalBackendUnavailable` when this model cannot run here."""


class RemoteProvider(Provider):
    #: The official environment variable holding this provider's key.
    key_env: ClassVar[str]

    @abstractmethod
    async def submit(self, spec: GenerationSpec, model: ModelEntry) -> str:
        """Send exactly one create request; return the provider's job id."""

    @abstractmethod
    async def poll(self, remote_id: str, model: ModelEntry) -> RemoteStatus:
        """Read the job's state (retried on 429/5xx with backoff by the shared HTTP layer)."""

    @abstractmethod
    async def cancel(self, remote_id: str, model: ModelEntry) -> None:
        """Ask the provider to stop the job; a no-op where the API has no cancel."""

    async def download(self, status: RemoteStatus, model: ModelEntry, dest: Path) -> None:
        """Fetch the first output of a finished job to `dest` (atomically, size- and type-checked)."""
        from reelforge.providers.download import download_limits
        from reelforge.providers.http import download_video

        if not status.output_urls:
            from reelforge.errors import ProviderFailure

            raise ProviderFailure(f"{self.display_name} reported success but returned no output file.")
        policy = self.read_policy()
        await download_video(self.client, status.output_urls[0], dest, headers=self.download_headers(),
                             limits=download_limits(self.settings), provider=self.display_name,
                             **({"policy": policy} if policy is not None else {}))

    @property
    def display_name(self) -> str:
        """How messages name the provider (adapters may say "MiniMax" rather than "minimax")."""
        return self.name

    def read_policy(self) -> Any:
        """The adapter's retry policy for reads and downloads, or None for the shared default."""
        return None

    def download_headers(self) -> dict[str, str]:
        """Headers for fetching outputs; most CDNs need none (Google needs the key)."""
        return {}

    @property
    def client(self) -> httpx.AsyncClient:
        if self._http is None:
            from reelforge.providers.http import shared_client

            self._http = shared_client()
        return self._http
