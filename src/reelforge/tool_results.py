"""MCP result shaping: a job as a tool result (a text line, the poster inline, a resource link and
the structured job), and the usage guide. The CLI shapes its own output from the same `job_view`."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mcp.types import CallToolResult, ImageContent, ResourceLink, TextContent

from reelforge.jobs.status import JobStatus
from reelforge.studio.views import job_view

if TYPE_CHECKING:
    from reelforge.jobs.job import Job
    from reelforge.studio.core import Studio

def inline_poster(path: str | None, *, ready: bool = False) -> ImageContent | None:
    """A picture for the result, at most INLINE_POSTER_PX on its longest side (hosts and models pay
    for every byte). A `ready` one (made
    with the poster, off the event loop) is sent as it is; anything else is shrunk here, its JPEG
    decoded at a reduced scale where it is much larger (a batch's sheet of hundreds of posters)."""
    if not path or not Path(path).exists():
        return None
    if ready:
        data = Path(path).read_bytes()
    else:
        from PIL import Image

        from reelforge.media.frames import INLINE_POSTER_PX

        with Image.open(path) as img:
            img.draft("RGB", (INLINE_POSTER_PX, INLINE_POSTER_PX))
            img = img.convert("RGB")
            img.thumbnail((INLINE_POSTER_PX, INLINE_POSTER_PX))
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=80)
        data = buf.getvalue()
    return ImageContent(type="image", data=base64.b64encode(data).decode("ascii"), mime_type="image/jpeg")


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
        small = job.outputs.get("poster_inline_path")  # jobs made before it existed shrink the poster
        poster = (small and inline_poster(small, ready=True)) or inline_poster(view.output.poster_path)
        if poster is not None:
            content.append(poster)
    content.append(ResourceLink(type="resource_link", name=job.id, uri=job.uri, mime_type="application/json",
                                description="Live status of this job"))
    return CallToolResult(content=content, structured_content=view.model_dump(mode="json"))


def result_of(studio: Studio, job: Job) -> CallToolResult:
    """A job as the tool result every path returns (a wait, `get_job`, a task's `tasks/get`)."""
    if job.kind == "batch":  # every item's status, read from its child job now
        from reelforge.studio.batch import item_rows

        return batch_result(job, item_rows(studio, job))
    return job_result(job)


def batch_result(job: Job, items: list[dict[str, Any]]) -> CallToolResult:
    """A batch as a tool result: the job, every item's status (job id, cost, time) and the sheet."""
    view = job_view(job).model_dump(mode="json")
    counts: dict[str, int] = {}
    for item in items:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    sheet, reel = job.outputs.get("sheet_path"), job.outputs.get("reel_path")
    view["batch"] = {"counts": counts, "sheet_path": sheet, **({"reel_path": reel} if reel else {}), "items": items}
    tally = ", ".join(f"{n} {status}" for status, n in counts.items())
    text = f"Batch {job.id} is {job.status.value} ({tally})."
    if job.status is JobStatus.SUCCEEDED:
        view["next_step"] = "Done: open batch.sheet_path; each item's clip is get_job(batch.items[i].job_id)."
        text = f"Batch {job.id} succeeded ({tally}), cost ${job.cost_usd or 0:.2f}. Comparison sheet: {sheet}"
        if reel:
            text += f" Reel: {reel}"
    elif job.status.terminal:
        text = f"Batch {job.id} {job.status.value}: [{job.error_code}] {job.error_message}"
    content: list[Any] = [TextContent(type="text", text=f"{text}\n{view['next_step']}")]
    poster = inline_poster(sheet)
    if poster is not None:
        content.append(poster)
    content.append(ResourceLink(type="resource_link", name=job.id, uri=job.uri, mime_type="application/json",
                                description="Live status of this batch"))
    return CallToolResult(content=content, structured_content=view)


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
6. **Batches**: `generate_batch` takes `items` (generate_video requests) or `compare`
   `{prompt, providers_or_models: ["runway", "luma/ray-2"], seed, shared: {other fields}}`; one quote,
   one confirmation; `get_job` of the batch lists each item; it ends with a labelled poster sheet, and with
   `reel: "side_by_side"` (at most 9 items) or `"sequential"` also a labelled reel of the clips (silent).
7. **Timelines**: `reelforge://timeline` is the full compose format (titles, audio bed, every field
   described); `list_models` and `reelforge://models` list each model's durations, ratios and prices.
7. **Characters**: `save_character(name, images)` keeps reference images (paths, or `{"job_id", "at_s"}`
   for a frame of a finished job); `generate_video(characters=[name])` sends them as the model's own
   reference images and puts the description in the prompt. `reelforge://characters` lists them.

The `preview` provider is free and offline: title-card, Ken Burns and blend animatics labelled PREVIEW,
for planning shots and timelines before paying for real generations.
"""
