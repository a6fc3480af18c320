"""The job record: one row of the ledger, and the statuses a job moves through."""

from __future__ import annotations

import time
import uuid
from typing import Any

from pydantic import BaseModel, Field

# The statuses live apart so the server can name them at start without this pydantic model.
from reelforge.jobs.status import TERMINAL, JobKind, JobStatus

__all__ = ["TERMINAL", "Job", "JobKind", "JobStatus", "new_job_id"]


def new_job_id() -> str:
    return "job_" + uuid.uuid4().hex[:16]


class Job(BaseModel):
    id: str = Field(default_factory=new_job_id)
    kind: JobKind
    status: JobStatus = JobStatus.QUEUED
    progress: float | None = None
    stage: str | None = None
    provider: str | None = None
    model: str | None = None
    remote_id: str | None = None
    #: The normalised request (a `GenerationSpec` dump, or the derived job's own request).
    request: dict[str, Any] = Field(default_factory=dict)
    quote_usd: float | None = None
    quote: dict[str, Any] | None = None
    cost_usd: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    parents: list[str] = Field(default_factory=list)
    outputs: dict[str, Any] = Field(default_factory=dict)
    #: Handler checkpoints (child job ids, extracted frame paths) so a resumed job continues.
    state: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    idempotency_key: str | None = None
    request_hash: str | None = None
    #: Hash of the caller's arguments (kind, parents, tool request) for an idempotency key.
    call_hash: str | None = None
    #: Which process drives the job, and until when its lease holds (renewed while it lives).
    lease_owner: str | None = None
    lease_until: float | None = None
    #: The tiers-file user whose call started the job (None on a single-user server): their limits,
    #: their own provider keys, and only they see it.
    user_id: str | None = None
    eta_s: float | None = None
    created_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)
    finished_at: float | None = None

    @property
    def uri(self) -> str:
        return f"reelforge://jobs/{self.id}"
