"""`HttpProvider`: the plumbing every JSON-over-HTTP adapter shares, so each adapter is only its wire format.

It reads the key (raising `MissingCredentials` before any request), sends creates once and reads
with retries through `providers.http`, and downloads outputs with the configured size limit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from reelforge.errors import MissingCredentials, OutcomeUnknown, ProviderFailure, ReelforgeError
from reelforge.providers.base import RemoteProvider, RemoteStatus
from reelforge.providers.http import (
    DO_NOT_RESUBMIT,
    ErrorMap,
    OutputUrlExpired,
    RetryPolicy,
    download_video,
    policy_from_settings,
    send,
)

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry

log = logging.getLogger(__name__)


class HttpProvider(RemoteProvider):
    """A `RemoteProvider` that talks JSON over the shared HTTP client."""

    #: Human name used in messages ("Runway", "Luma").
    title: ClassVar[str]

    def api_key(self) -> str:
        """The provider key, or `MissingCredentials` naming the variable to set."""
        key = self.settings.key_for(self.key_env)
        if not key:
            raise MissingCredentials(self.title, self.key_env)
        return key

    @property
    def retry_policy(self) -> RetryPolicy:
        return policy_from_settings(self.settings)

    def error_map(self) -> ErrorMap:
        """Map a non-2xx response to a `ReelforgeError` (adapters refine the shared classification)."""
        from reelforge.providers.http import status_error_map

        return status_error_map(self.title)

    async def create(
        self, url: str, body: Mapping[str, Any], headers: Mapping[str, str], *, id_field: str = "id"
    ) -> tuple[str, dict[str, Any]]:
        """Send one create request (never retried); return the new job's id and the whole answer.

        A 2xx answer without a readable id means a job may exist that we cannot name:
        `OutcomeUnknown`, never a reason to send again.
        """
        response = await send(
            self.client, "POST", url, json=body, headers=headers, retry_reads=False, expect_json=True,
            error_map=self.error_map(), provider=self.title, policy=self.retry_policy,
        )  # fmt: skip
        answer = response.json()
        remote_id = answer.get(id_field) if isinstance(answer, dict) else None
        if not isinstance(remote_id, str) or not remote_id:
            raise OutcomeUnknown(
                f"{self.title} accepted the create request but its answer has no job id, so the job cannot "
                "be followed (it may have been started and billed).",
                hint=DO_NOT_RESUBMIT,
            )
        return remote_id, answer

    async def read(self, method: str, url: str, headers: Mapping[str, str], **kw: Any) -> dict[str, Any] | None:
        """A retried read or idempotent call; returns the JSON object, or None for an empty body."""
        response = await send(
            self.client, method, url, headers=headers, retry_reads=True, expect_json=method == "GET",
            error_map=self.error_map(), provider=self.title, policy=self.retry_policy, **kw,
        )  # fmt: skip
        if not response.content:
            return None
        return _json_object(response.json(), self.title)

    async def read_job(self, url: str, headers: Mapping[str, str], remote_id: str) -> dict[str, Any]:
        """Read a job's status object; a read that keeps failing says the job may still be running."""
        try:
            return await self.read("GET", url, headers) or {}
        except ReelforgeError as exc:
            if exc.retryable:
                exc.message = (
                    f"Reading the status of {self.title} job {remote_id} failed: {exc.message} "
                    "The job may still be running there; it was not submitted again."
                )
            raise

    async def download(self, status: RemoteStatus, model: ModelEntry, dest: Path) -> None:
        """Fetch the first output; an expired link is refreshed once by reading the job again."""
        try:
            await self._fetch(status, dest)
        except OutputUrlExpired:
            remote_id = status.remote_id if isinstance(status, TrackedStatus) else None
            if remote_id is None:
                raise
            log.info("%s output link expired; reading job %s again for a fresh one", self.name, remote_id)
            await self._fetch(await self.poll(remote_id, model), dest)

    async def _fetch(self, status: RemoteStatus, dest: Path) -> None:
        if not status.output_urls:
            raise ProviderFailure(f"{self.title} reported success but returned no output file.")
        from reelforge.providers.download import download_limits

        await download_video(
            self.client, status.output_urls[0], dest, headers=self.download_headers(),
            limits=download_limits(self.settings), provider=self.title, policy=self.retry_policy,
        )  # fmt: skip


@dataclass
class TrackedStatus(RemoteStatus):
    """A `RemoteStatus` that remembers its job, so an expired output link can be refreshed."""

    remote_id: str | None = None


def _json_object(body: object, provider: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ProviderFailure(f"{provider} answered with an unexpected JSON shape ({type(body).__name__}).")
    return body
