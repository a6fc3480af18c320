"""Inputs a request names, resolved and vetted before anything is planned: images and videos
(an allowed local file or a public https URL), and clips (a finished job's output or a local file)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from reelforge.errors import InvalidRequest
from reelforge.generation_spec import MediaRef
from reelforge.jobs.job import Job, JobStatus
from reelforge.security import check_local_path, resolve_media
from reelforge.studio.tool_schemas import VideoSource

if TYPE_CHECKING:
    from reelforge.studio.core import Studio


def resolve_image(studio: Studio, value: str | None, param: str) -> MediaRef | None:
    return None if value is None else resolve_media(value, studio.settings, param=param, expected="image")


def resolve_video(studio: Studio, value: str | None, param: str) -> MediaRef | None:
    return None if value is None else resolve_media(value, studio.settings, param=param, expected="video")


def resolve_clip(studio: Studio, source: VideoSource) -> tuple[Path, Job | None]:
    """A clip to work on: a finished job's output, or an allowed local file."""
    if source.job_id is not None:
        job = studio.store.require(source.job_id)
        if job.status is not JobStatus.SUCCEEDED or not job.outputs.get("path"):
            raise InvalidRequest(
                f"Job {job.id} is {job.status.value}, not finished; its output cannot be used yet.",
                param="source.job_id", hint=f"Wait with get_job('{job.id}', wait_seconds=40).",
            )
        return Path(job.outputs["path"]), job
    assert source.path is not None
    return check_local_path(source.path, studio.settings, param="source.path"), None
