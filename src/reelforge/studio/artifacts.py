"""Turning a rendered or downloaded file into a result the user can open and trust.

Every output is probed (a file that does not decode is a failure, not a success), hashed, given a
poster frame and a 4x4 contact sheet, and a provenance receipt (request, provider, model, seed,
remote id, cost, parents, SHA-256) written beside it. Receipts never hold secrets or signed URLs.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import anyio

from reelforge import __version__
from reelforge.jobs.job import Job, JobStatus
from reelforge.jobs.runner import JobContext


def is_partial(name: str) -> bool:
    """Temp files our writers leave only when killed: `.partial-*` (ffmpeg, frames, titles, OTIO),
    `.video.mp4.partial-*` (downloads), `receipt.json.partial`."""
    return name.startswith(".partial-") or ".partial-" in name or name.endswith(".partial")


def sweep_partials(folder: Path) -> list[str]:
    """Delete leftover temp files in a job's folder; returns their names. Only the process driving the
    job writes there, so at a resume or an end every temp file is a dead writer's."""
    if not folder.is_dir():
        return []
    removed = []
    for path in folder.rglob("*"):
        if is_partial(path.name) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_POSTPROCESS: list[anyio.CapacityLimiter] = []


def _postprocess_limiter() -> anyio.CapacityLimiter:
    """One post-processing per core at a time, process-wide. It is CPU-bound, so more at once only
    adds memory: 50 jobs finishing together held 40 decoders of 720p video (measured 829 MB RSS)."""
    if not _POSTPROCESS:
        _POSTPROCESS.append(anyio.CapacityLimiter(max(1, len(os.sched_getaffinity(0)))))
    return _POSTPROCESS[0]


def _describe(video: Path, out_dir: Path) -> dict[str, Any]:
    """Probe once and decode once for the poster and the contact sheet (the bulk of a job's CPU)."""
    from reelforge.media.frames import poster_and_sheet
    from reelforge.media.probe import probe

    info = probe(video)
    made_poster, sheet = poster_and_sheet(video, info.frames, out_dir / "poster.jpg", out_dir / "contact_sheet.jpg",
                                          inline_jpg=out_dir / "poster_inline.jpg")
    return {
        "path": str(video),
        "file_uri": video.as_uri(),
        "sha256": sha256_file(video),
        "poster_path": str(made_poster),
        "poster_inline_path": str(out_dir / "poster_inline.jpg"),
        "contact_sheet_path": str(sheet),
        "duration_s": info.duration_s,
        "frames": info.frames,
        "fps": info.fps,
        "width": info.width,
        "height": info.height,
        "codec": info.codec,
        "has_audio": info.has_audio,
        "size_bytes": info.size_bytes,
    }


def _without_url_secrets(value: Any) -> Any:
    """Drop query strings and fragments from every URL (signed links carry their secrets there)."""
    if isinstance(value, dict):
        return {k: _without_url_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_url_secrets(v) for v in value]
    if isinstance(value, str) and value.startswith(("http://", "https://")) and ("?" in value or "#" in value):
        return value.split("#", 1)[0].split("?", 1)[0] + "?…"
    return value


def write_receipt(job: Job, output: dict[str, Any], path: Path) -> Path:
    receipt = {
        "reelforge_version": __version__,
        "job_id": job.id,
        "kind": job.kind,
        "provider": job.provider,
        "model": job.model,
        "remote_id": job.remote_id,
        "request": _without_url_secrets(job.request),
        "seed": job.request.get("seed"),
        "quote": job.quote,
        "cost_usd": job.cost_usd,
        "parents": job.parents,
        "notes": job.notes,
        "output": {k: output[k] for k in ("path", "sha256", "duration_s", "frames", "fps", "width", "height", "codec")},
        "created_at": job.created_at,
        "finished_at": time.time(),
    }
    tmp = path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(receipt, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)
    return path


async def finalize(ctx: JobContext, video: Path, *, extra: dict[str, Any] | None = None,
                   cost_usd: float | None = None, attach: dict[str, str] | None = None) -> Job:
    """Probe, hash and illustrate `video`, write the receipt, and mark the job succeeded."""
    await ctx.progress(None, "checking output")
    out_dir = video.parent
    output = await anyio.to_thread.run_sync(_describe, video, out_dir, limiter=_postprocess_limiter())
    output["extra"] = extra or {}
    output.update(attach or {})
    job = ctx.job
    if cost_usd is None:
        cost_usd = job.quote_usd if job.kind == "generate" else job.cost_usd
    job = ctx.update(cost_usd=cost_usd)
    output["receipt_path"] = str(write_receipt(job, output, out_dir / "receipt.json"))
    await anyio.to_thread.run_sync(sweep_partials, out_dir)  # a finished folder holds only final files
    return ctx.update(status=JobStatus.SUCCEEDED, progress=1.0, stage="done", outputs=output, eta_s=0)
