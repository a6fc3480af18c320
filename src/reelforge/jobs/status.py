"""The statuses a job moves through and the kinds of job: plain enums, importable at server start
without the pydantic job record (`jobs/job.py`), which loads with the studio after the handshake."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

JobKind = Literal["generate", "extend", "loop", "compose", "batch"]


class JobStatus(StrEnum):
    QUEUED = "queued"
    SUBMITTING = "submitting"
    RUNNING = "running"
    DOWNLOADING = "downloading"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    #: A create request may or may not have reached the provider; we will not guess.
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.UNKNOWN})
