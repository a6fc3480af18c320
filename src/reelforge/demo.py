"""`reelforge demo`: the main job end to end, offline, through a real MCP client over stdio.

It starts `reelforge serve` as a subprocess, exactly as a desktop host would, and calls the tools:
generate a preview clip, extend it, loop it, compose a short timeline. It prints each output path
and shows the final poster in the terminal.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

STEPS_TIMEOUT_S = 600


def _env(home: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.startswith(("REELFORGE_", "HOME", "PATH", "LANG", "TMP", "IMAGEIO"))}
    if home is not None:
        env["REELFORGE_HOME"] = str(home)
    env.setdefault("REELFORGE_WAIT_SECONDS", "40")
    env.setdefault("REELFORGE_LOG_LEVEL", "WARNING")  # keep the demo's terminal to the results
    return env


async def _call(client: Client, tool: str, request: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, {"request": request})
    if result.is_error:
        raise SystemExit(f"{tool} failed: {result.content[0].text}")
    job = result.structured_content
    with anyio.move_on_after(STEPS_TIMEOUT_S):
        while job["status"] not in ("succeeded", "failed", "canceled", "unknown"):
            result = await client.call_tool("get_job", {"job_id": job["job_id"], "wait_seconds": 40})
            job = result.structured_content
    if job["status"] != "succeeded":
        raise SystemExit(f"{tool} ended {job['status']}: {job.get('error')}")
    return job


def _show(console, label: str, job: dict[str, Any]) -> None:
    out = job["output"]
    extra = ""
    seam = (out.get("extra") or {}).get("loop", {}).get("seam") or (out.get("extra") or {}).get("seam")
    if seam:
        extra = f", seam ratio {seam['seam_ratio']:.2f}"
    console.print(f"[bold]{label}[/bold] {out['path']}\n    {out['duration_s']:.2f} s, {out['frames']} frames, "
                  f"{out['width']}x{out['height']} @ {out['fps']:g} fps{extra}")


def show_poster(console, path: str, width: int = 64) -> None:
    """Draw an image with half-block characters so the poster is visible in any colour terminal."""
    from PIL import Image
    from rich.text import Text

    with Image.open(path) as img:
        img = img.convert("RGB")
        height = max(2, int(width * img.height / img.width / 2) * 2)
        img = img.resize((width, height))
        px = img.load()
    for y in range(0, height, 2):
        line = Text()
        for x in range(width):
            top, bottom = px[x, y], px[x, y + 1]
            line.append("▀", style=f"rgb({top[0]},{top[1]},{top[2]}) on rgb({bottom[0]},{bottom[1]},{bottom[2]})")
        console.print(line)


async def run_demo(home: Path | None) -> int:
    from rich.console import Console

    console = Console()
    params = StdioServerParameters(command=sys.executable, args=["-m", "reelforge", "serve"], env=_env(home))
    console.print("reelforge demo: starting the MCP server over stdio (offline preview provider)…")
    async with Client(params) as client:
        tools = await client.list_tools()
        console.print(f"tools: {', '.join(t.name for t in tools.tools)}")
        clip = await _call(client, "generate_video", {
            "prompt": "A paper boat drifts across a lake at sunrise", "provider": "preview",
            "duration_s": 3, "resolution": "480p", "seed": 7})
        _show(console, "generated", clip)
        extended = await _call(client, "extend_video", {
            "source": {"job_id": clip["job_id"]}, "prompt": "The boat reaches the far shore", "provider": "preview",
            "duration_s": 2, "resolution": "480p"})
        _show(console, "extended ", extended)
        looped = await _call(client, "make_loop", {"source": {"job_id": clip["job_id"]}, "strategy": "crossfade"})
        _show(console, "loop     ", looped)
        timeline = await _call(client, "compose_timeline", {
            "name": "demo",
            "timeline": {
                "preset": "draft",
                "clips": [
                    {"job_id": extended["job_id"], "transition": {"kind": "crossfade", "duration_s": 0.5}},
                    {"job_id": looped["job_id"], "transition": {"kind": "fade_black", "duration_s": 0.5}},
                    {"generate": {"prompt": "The End", "provider": "preview", "duration_s": 2, "resolution": "480p"}},
                ],
                "titles": [{"text": "reelforge demo", "start_s": 0.2, "end_s": 2.5, "position": "top"}],
            },
        })
        _show(console, "timeline ", timeline)
        console.print(f"    OpenTimelineIO: {timeline['output'].get('otio_path')}")
        console.print(f"poster: {timeline['output']['poster_path']}")
        if console.is_terminal and console.color_system:
            show_poster(console, timeline["output"]["poster_path"])
        console.print("These are PREVIEW animatics (free, offline). Set a provider key to generate real video.")
    return 0
