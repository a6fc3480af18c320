"""Re-attaching a repeated call to the job it already started, so nothing is paid twice.

A call re-attaches when its `idempotency_key` names an existing job (the same key for a different
request is refused: `IdempotencyConflict`), or when the identical request started a job moments
ago (`DUPLICATE_WINDOW_S`). Re-attaching to a paid generation whose download failed fetches the
finished video again from its stored remote id; nothing is ever submitted again.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from reelforge.jobs.job import Job, JobStatus
from reelforge.jobs.store import check_same_request
from reelforge.studio.caller import current_user
from reelforge.studio.tool_schemas import CallOptions

if TYPE_CHECKING:
    from reelforge.studio.core import Studio
    from reelforge.studio.prepared import Prepared

#: A repeated identical request within this window re-attaches to the first job.
DUPLICATE_WINDOW_S = 120.0
DOWNLOAD_FAILED = "download_failed"


def request_digest(kind: str, request: dict[str, Any], parents: list[str], user: str | None = None) -> str:
    """The normalised request, per user: one user's repeat never re-attaches to another user's job."""
    asked = [kind, request, parents] if user is None else [kind, request, parents, user]
    return hashlib.sha256(json.dumps(asked, sort_keys=True, default=str).encode()).hexdigest()


def scoped_key(key: str | None, user: str | None) -> str | None:
    """An idempotency key as stored: per user, so two users' keys never meet."""
    return key if key is None or user is None else f"user:{user}:{key}"


def call_digest(kind: str, request: dict[str, Any], parents: list[str], call: CallOptions) -> str:
    """What the caller asked for: the tool's arguments, less the options of the call itself. The
    normalised request cannot serve: it holds a seed drawn afresh for each call."""
    asked = call.model_dump(mode="json", exclude=set(CallOptions.model_fields))
    return hashlib.sha256(json.dumps([kind, asked or request, parents], sort_keys=True, default=str).encode()).hexdigest()


def find_existing(studio: Studio, prepared: Prepared, call: CallOptions) -> tuple[Job, str] | None:
    """The job this call would re-attach to and why, without touching it."""
    user = current_user()
    key = scoped_key(call.idempotency_key, user)
    if key:
        existing = studio.store.find_by_idempotency_key(key)
        if existing is not None:
            check_same_request(existing, call.idempotency_key,
                               call_digest(prepared.kind, prepared.request, prepared.parents, call))
            return existing, (f"idempotency_key '{call.idempotency_key}' matches job {existing.id}; "
                              "no new job was started.")
    dup = studio.store.find_recent_duplicate(
        request_digest(prepared.kind, prepared.request, prepared.parents, user), DUPLICATE_WINDOW_S)
    if dup is not None:
        return dup, (f"an identical {prepared.kind} request started job {dup.id} moments ago; re-attached to it "
                     "instead of paying twice (change the request or pass a new idempotency_key to make another).")
    return None


def existing_for(studio: Studio, prepared: Prepared, call: CallOptions) -> Job | None:
    """The job a repeated call re-attaches to, re-attached; None for a new call."""
    found = find_existing(studio, prepared, call)
    return None if found is None else reattach(studio, *found)


def reattach(studio: Studio, job: Job, note: str) -> Job:
    if note not in job.notes:
        job = studio.store.update(job.id, notes=[*job.notes, note])
    return retry_download(studio, job)


def retry_download(studio: Studio, job: Job) -> Job:
    """Restart a `download_failed` generate job from its remote id: the runner reads the remote job
    (a fresh output link) and downloads it. Any other job is returned as it is."""
    if (job.kind != "generate" or job.status is not JobStatus.FAILED or job.error_code != DOWNLOAD_FAILED
            or not job.remote_id or studio.runner.is_active(job.id)):
        return job
    note = f"fetching the finished video of remote job {job.remote_id} again (no new request was sent)"
    job = studio.store.update(
        job.id, status=JobStatus.RUNNING, error_code=None, error_message=None, finished_at=None,
        stage="fetching the finished video again", notes=[*job.notes, note] if note not in job.notes else job.notes,
    )  # fmt: skip
    studio.runner.start(job.id, again=True)
    return job
