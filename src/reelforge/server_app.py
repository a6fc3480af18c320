"""The MCP App (`io.modelcontextprotocol/ui`): a job viewer that hosts with Apps render in the chat.

One `ui://` resource, `app/job.html` (self-contained: no external scripts, fonts or connections; its
CSP declares no domains, so everything goes through the host bridge). The work tools and `get_job`
name it in `_meta.ui.resourceUri` (`APP_META`); hosts without Apps ignore that and read the same text,
poster and resource link as before. Two resources feed the page:

- `reelforge://jobs/{id}/preview`: the finished video as a small proxy (`media/proxy.py`), base64
  `video/mp4`, made on first read and cached beside the output;
- `reelforge://jobs/{id}/app`: what the job view does not carry: the quote's source, the poster and
  contact sheet as data URIs, a compose job's timeline strip, a batch's items and comparison sheet.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server import MCPServer
from mcp.server.apps import Apps, ResourceCsp
from mcp.server.mcpserver.exceptions import ResourceNotFoundError

from reelforge.server_context import caller

if TYPE_CHECKING:
    from reelforge.jobs.job import Job
    from reelforge.studio.core import Studio

APP_URI = "ui://reelforge/job.html"
#: Stamped on every tool whose result the app can show.
APP_META: dict[str, Any] = {"ui": {"resourceUri": APP_URI}}
#: Images above this are left out of the app's data (the page would carry them as base64).
_IMAGE_MAX_BYTES = 2 * 1024 * 1024


def app_extension() -> Apps:
    """The Apps extension with the job page; passed to the server when it is built."""
    apps = Apps()
    html = (Path(__file__).parent / "app" / "job.html").read_text(encoding="utf-8")  # package data
    # An empty CSP declaration: no connect, resource or frame domains (hosts then block all network).
    apps.add_html_resource(APP_URI, html, name="job", title="reelforge job", csp=ResourceCsp(),
                           description="Watch a job, play its result, approve a quote.", prefers_border=True)
    return apps


def register_app_resources(mcp: MCPServer, current: Callable[[], Awaitable[Studio]]) -> None:
    async def job_of(id: str) -> tuple[Studio, Job]:
        from reelforge.errors import JobNotFound
        from reelforge.studio.ownership import visible_job

        studio = await current()
        try:
            return studio, visible_job(studio, id, caller())
        except JobNotFound:
            raise ResourceNotFoundError(f"No job {id}") from None

    @mcp.resource("reelforge://jobs/{id}/preview", mime_type="video/mp4", title="Small playable copy of a job's video")
    async def preview_resource(id: str) -> bytes:
        from reelforge.errors import MediaError
        from reelforge.media.proxy import ensure_proxy

        _, job = await job_of(id)
        out = job.outputs
        try:
            if out.get("path"):
                proxy = await ensure_proxy(out["path"], fps=float(out["fps"]), duration_s=float(out["duration_s"]))
            elif out.get("reel_path"):  # a batch's video is its reel, probed here (its row keeps the path only)
                info = await anyio.to_thread.run_sync(_probe_reel, out["reel_path"])
                proxy = await ensure_proxy(out["reel_path"], fps=info.fps, duration_s=info.duration_s)
            else:
                raise ResourceNotFoundError(f"Job {id} has no finished video yet")
        except MediaError as exc:
            raise ResourceNotFoundError(exc.message) from None
        return await anyio.Path(proxy).read_bytes()  # up to a few MB: off the event loop

    @mcp.resource("reelforge://jobs/{id}/app", mime_type="application/json", title="A job's pictures and plan")
    async def app_resource(id: str) -> dict[str, Any]:
        studio, job = await job_of(id)
        return app_details(studio, job)


def app_details(studio: Studio, job: Job) -> dict[str, Any]:
    """What the page shows beyond the job view, read from the ledger and the output folder."""
    out = job.outputs
    details: dict[str, Any] = {
        "job_id": job.id, "kind": job.kind, "quote": job.quote,
        "poster": _data_uri(out.get("poster_path")), "contact_sheet": _data_uri(out.get("contact_sheet_path")),
    }
    if job.kind == "compose":
        details["timeline"] = timeline_strip(job.request)
    if job.kind == "batch":
        from reelforge.studio.batch import item_rows

        details["batch"] = {"items": item_rows(studio, job), "sheet": _data_uri(out.get("sheet_path")),
                            "reel_path": out.get("reel_path")}
    return details


def _probe_reel(reel: str) -> Any:
    from reelforge.errors import MediaError
    from reelforge.media.probe import probe

    if not Path(reel).is_file():
        raise MediaError(f"The batch's reel {Path(reel).name} is no longer on disk.")
    return probe(reel)


def timeline_strip(request: dict[str, Any]) -> dict[str, Any]:
    """A compose job's stored timeline as the strip draws it: clips in order, each with its source,
    used span and the transition into it; titles with their times."""
    spec = request.get("timeline") or {}
    clips = []
    for i, clip in enumerate(spec.get("clips") or []):
        generate = clip.get("generate") or {}
        if clip.get("job_id"):
            label = f"job {clip['job_id']}"
        elif clip.get("path"):
            label = Path(clip["path"]).name
        else:
            label = f"generate: {generate.get('prompt') or generate.get('provider') or 'clip'}"
        transition = clip.get("transition") or None
        clips.append({"index": i, "label": label[:80], "in_s": clip.get("in_s", 0.0), "out_s": clip.get("out_s"),
                      "transition": transition and {"kind": transition.get("kind"),
                                                    "duration_s": transition.get("duration_s")}})
    titles = [{"text": t.get("text", "")[:120], "start_s": t.get("start_s"), "end_s": t.get("end_s")}
              for t in spec.get("titles") or []]
    return {"clips": clips, "titles": titles, "preset": spec.get("preset"), "orientation": spec.get("orientation")}


def _data_uri(path: str | None) -> str | None:
    if not path:
        return None
    file = Path(path)
    if not file.is_file() or file.stat().st_size > _IMAGE_MAX_BYTES:
        return None
    mime = "image/png" if file.suffix.lower() == ".png" else "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(file.read_bytes()).decode('ascii')}"
