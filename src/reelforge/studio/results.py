"""Shaping what the calling model sees: tool results, model rows, the usage guide."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

from mcp.types import CallToolResult, ImageContent, ResourceLink, TextContent

from reelforge.catalog import Catalog
from reelforge.jobs.job import Job, JobStatus
from reelforge.settings import Settings
from reelforge.providers.registry import missing_credentials
from reelforge.studio.views import job_view

#: Inline posters stay small: hosts and models pay for every byte.
INLINE_POSTER_MAX_PX = 512


def inline_poster(path: str | None) -> ImageContent | None:
    if not path or not Path(path).exists():
        return None
    from PIL import Image

    with Image.open(path) as img:
        img = img.convert("RGB")
        img.thumbnail((INLINE_POSTER_MAX_PX, INLINE_POSTER_MAX_PX))
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=80)
    return ImageContent(type="image", data=base64.b64encode(buf.getvalue()).decode("ascii"), mime_type="image/jpeg")


def _summary(job: Job) -> str:
    view = job_view(job)
    label = " (PREVIEW animatic, not AI-generated)" if view.is_preview else ""
    if job.status is JobStatus.SUCCEEDED and view.output is not None:
        o = view.output
        cost = f", cost ${job.cost_usd:.2f}" if job.cost_usd else ""
        return (f"Job {job.id} succeeded{label}: {o.path}\n{o.duration_s:.2f} s, {o.frames} frames, "
                f"{o.width}x{o.height} @ {o.fps:g} fps, {o.codec}{cost}.")
    if job.status.terminal:
        return f"Job {job.id} {job.status.value}: [{job.error_code}] {job.error_message}\n{view.next_step}"
    pct = f" {job.progress * 100:.0f}%" if job.progress is not None else ""
    eta = f", about {job.eta_s:.0f} s left" if job.eta_s else ""
    return f"Job {job.id} is {job.status.value}{pct} ({job.stage or 'working'}{eta}){label}. {view.next_step}"


def job_result(job: Job) -> CallToolResult:
    view = job_view(job)
    content: list[Any] = [TextContent(type="text", text=_summary(job))]
    if view.output is not None:
        poster = inline_poster(view.output.poster_path)
        if poster is not None:
            content.append(poster)
    content.append(ResourceLink(type="resource_link", name=job.id, uri=job.uri, mime_type="application/json",
                                description="Live status of this job"))
    return CallToolResult(content=content, structured_content=view.model_dump(mode="json"))


def _local_readiness(entry: Any, model: Any, settings: Settings) -> tuple[bool, str | None]:
    """A local model is ready when its backend says so (extra installed, weights present); cheap, no torch."""
    from reelforge.errors import ReelforgeError
    from reelforge.providers.base import LocalProvider
    from reelforge.providers.registry import make_provider

    adapter = make_provider(entry.name, settings)
    if not isinstance(adapter, LocalProvider):
        return True, None
    try:
        adapter.check_available(model)
    except ReelforgeError as exc:
        return False, str(exc)
    return True, None


def model_rows(catalog: Catalog, settings: Settings, *, provider: str | None = None, input_kind: str | None = None,
               include_retired: bool = False) -> list[dict[str, Any]]:
    from reelforge.errors import InvalidRequest

    if provider is not None and provider not in catalog.providers:  # a typo is not "no models"
        raise InvalidRequest(f"Unknown provider '{provider}'. Known: {', '.join(sorted(catalog.providers))}.",
                             param="provider")
    kinds = sorted({k for m in catalog.models() for k in m.capabilities.inputs})
    if input_kind is not None and input_kind not in kinds:
        raise InvalidRequest(f"Unknown input kind '{input_kind}'. Known: {', '.join(kinds)}.", param="input")
    rows = []
    for entry in catalog.providers.values():
        if provider and entry.name != provider:
            continue
        missing = missing_credentials(entry.name, settings)
        keyed = missing is None
        for m in entry.models:
            if m.status == "retired" and not include_retired:
                continue
            if input_kind and input_kind not in m.capabilities.inputs:
                continue
            c = m.capabilities
            ready, needs = keyed, (None if missing is None else "set " + " and ".join(missing.env_vars))
            if entry.local:
                ready, needs = _local_readiness(entry, m, settings)
            rows.append({
                "provider": m.provider, "model": m.id, "title": m.title, "status": m.status,
                "replacement": m.replacement, "ready": ready, "needs": needs,
                "inputs": c.inputs, "durations": c.durations.describe(), "aspect_ratios": c.aspect_ratios,
                "resolutions": c.resolutions, "fps": c.fps, "audio": c.audio, "seed": c.seed, "loop": c.loop,
                "extend": c.extend, "camera_moves": c.camera_moves,
                "price": {"unit": m.price.unit, "usd": m.price.usd, "source": m.price.source,
                          "as_of": m.price.as_of.isoformat(), "estimate": m.price.estimate},
                "typical_seconds": m.typical_seconds,
            })
    return rows


def usage_guide() -> str:
    return """# Using reelforge

1. **Quote first**: `estimate_cost` (add `compare=true` to rank every eligible model). Paid jobs above the
   confirmation threshold need the user's OK, then `confirm=true`.
2. **Start work**: `generate_video`, `extend_video`, `make_loop`, `compose_timeline`. Each waits up to
   `wait_seconds` (default 40) and then returns a job handle. Pass an `idempotency_key` on paid calls.
3. **Pick it up**: `get_job(job_id, wait_seconds=40)` until `status` is `succeeded`; the result has
   `output.path` (absolute), a poster frame, a contact sheet and a provenance receipt.
4. **Never resubmit** a job whose status is `running` or `unknown`: that would pay twice.
5. **Chain**: use a finished job's id as `source.job_id` (extend, loop) or a clip's `job_id` (compose).
6. **Timelines**: `reelforge://timeline` is the full compose format (titles, audio bed, every field
   described); `list_models` and `reelforge://models` list each model's durations, ratios and prices.

The `preview` provider is free and offline: title-card, Ken Burns and blend animatics labelled PREVIEW,
for planning shots and timelines before paying for real generations.
"""
