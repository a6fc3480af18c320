"""The MCP App's server side, without a browser: the `ui://` page and its declaration, the tools bound to
it, the playable proxy (probed), and the details the page draws (timeline strip, quote source).
`test_app_browser.py` checks what a person sees in a real browser."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from client_utils import settle, start_job
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID
from mcp.shared.exceptions import MCPError

from reelforge.media.probe import probe
from reelforge.server_app import APP_URI

BOUND = {"generate_video", "estimate_cost", "extend_video", "make_loop", "compose_timeline", "generate_batch", "get_job"}
CLIP = {"prompt": "A lighthouse at dusk", "provider": "preview", "duration_s": 2, "resolution": "720p"}


async def test_page_is_declared_strict_and_self_contained(client) -> None:
    assert EXTENSION_ID in (client.server_capabilities.extensions or {})
    listed = {r.uri: r for r in (await client.list_resources()).resources}
    assert listed[APP_URI].mime_type == APP_MIME_TYPE
    page = (await client.read_resource(APP_URI)).contents[0]
    assert page.mime_type == APP_MIME_TYPE
    assert page.meta["ui"]["csp"] == {}  # no connect, resource or frame domains: only the host bridge
    html = page.text
    # Nothing loads from anywhere: no external scripts, styles, fonts, frames or fetches.
    assert not re.search(r"(src|href)\s*=\s*[\"'](https?:)?//", html, re.I)
    assert not re.search(r"@import|@font-face|<link\b|fetch\(|XMLHttpRequest|WebSocket|EventSource", html)
    assert "connect-src 'none'" in html and "default-src 'none'" in html


async def test_work_tools_name_the_page(client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    bound = {name for name, t in tools.items() if ((t.meta or {}).get("ui") or {}).get("resourceUri") == APP_URI}
    assert bound == BOUND


@pytest.mark.slow
async def test_preview_is_a_small_cached_proxy_of_the_probed_clip(client) -> None:
    job = await settle(client, await start_job(client, "generate_video", CLIP))
    assert job["status"] == "succeeded", job
    original = probe(job["output"]["path"])

    uri = f"reelforge://jobs/{job['job_id']}/preview"
    content = (await client.read_resource(uri)).contents[0]
    assert content.mime_type == "video/mp4"
    data = base64.b64decode(content.blob)
    proxy_file = Path(job["output"]["path"]).with_name("video.proxy.mp4")
    assert proxy_file.read_bytes() == data  # cached beside the output
    proxy = probe(proxy_file)
    assert proxy.codec == "h264" and proxy.height == 480 and proxy.width == 854
    assert proxy.has_audio == original.has_audio and proxy.frames == original.frames
    assert abs(proxy.duration_s - original.duration_s) < 0.05
    assert data.find(b"moov") < data.find(b"mdat"), "the proxy must start playing before it is all read (faststart)"

    made = proxy_file.stat().st_mtime_ns
    again = (await client.read_resource(uri)).contents[0]
    assert again.blob == content.blob and proxy_file.stat().st_mtime_ns == made  # not rendered twice

    details = (await client.read_resource(f"reelforge://jobs/{job['job_id']}/app")).contents[0]
    assert details.mime_type == "application/json"
    assert '"poster": "data:image/jpeg;base64,' in details.text and '"contact_sheet": "data:image/jpeg' in details.text


async def test_preview_of_a_missing_job_is_not_found(client) -> None:
    with pytest.raises(MCPError, match="No job"):
        await client.read_resource("reelforge://jobs/job_doesnotexist/preview")


def test_timeline_strip_reads_the_stored_request() -> None:
    from reelforge.server_app import timeline_strip

    request = {"timeline": {"preset": "draft", "orientation": "16:9", "clips": [
        {"job_id": "job_1", "in_s": 0.5, "out_s": 2.0, "transition": {"kind": "wipe", "duration_s": 0.4}},
        {"path": "/data/clips/beach.mp4", "in_s": 0.0, "out_s": None, "transition": None},
        {"generate": {"prompt": "The End", "provider": "preview"}, "in_s": 0.0},
    ], "titles": [{"text": "Hello", "start_s": 0.2, "end_s": 1.0}]}}
    strip = timeline_strip(request)
    assert [c["label"] for c in strip["clips"]] == ["job job_1", "beach.mp4", "generate: The End"]
    assert strip["clips"][0]["transition"] == {"kind": "wipe", "duration_s": 0.4}
    assert strip["clips"][1]["transition"] is None and strip["clips"][0]["out_s"] == 2.0
    assert strip["titles"] == [{"text": "Hello", "start_s": 0.2, "end_s": 1.0}]
