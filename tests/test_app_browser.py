"""The MCP App in a real browser: Debian's chromium, driven by playwright, with a test page playing the host.

The page (`app_host/host.html`) loads the app's HTML, read through a real MCP session from a real
`reelforge serve` subprocess (stdio), into a sandboxed iframe and relays the app's `tools/call` and
`resources/read` to that session. The assertions are on what a person sees: the approve button starts
the paid job (Runway's loopback emulator, priced above the confirmation threshold), the progress bar
advances while it runs, the video element plays a clip as long as the probed result, a failed job shows
its message, a compose job (free `preview` clips) shows its timeline strip. Screenshots of those states
go to `test-artifacts/app/`.

Skips only when chromium or playwright is missing and `REELFORGE_REQUIRE_BROWSER` is unset (CI sets it).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from provider_utils import require_provider

require_provider("runway")  # the paid job runs on its emulator
from emulators.runway import RunwayEmulator
from mcp import Client, StdioServerParameters

from reelforge.media.probe import probe

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

HOST_PAGE = Path(__file__).parent / "app_host" / "host.html"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "app"
APP_URI = "ui://reelforge/job.html"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PAID = {"provider": "runway", "model": "gen4.5", "prompt": "a kite over the dunes", "duration_s": 2}


def _chromium() -> str:
    """The system chromium, or a skip (a failure when the browser is required)."""
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    missing = [] if found else ["chromium (apt-get install chromium)"]
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install playwright)")
    if missing:
        reason = f"the browser test needs {' and '.join(missing)}"
        if os.environ.get("REELFORGE_REQUIRE_BROWSER"):
            pytest.fail(f"{reason}, and REELFORGE_REQUIRE_BROWSER is set")
        pytest.skip(reason)
    return found


@pytest.fixture
def chromium() -> str:
    return _chromium()


@pytest.fixture
def emu() -> Any:
    with RunwayEmulator() as emulator:
        yield emulator


@asynccontextmanager
async def serve(tmp_path: Path, emu: RunwayEmulator) -> AsyncIterator[Client]:
    """A real `reelforge serve` over stdio: free preview, Runway on its emulator, $0.05 threshold."""
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", str(tmp_path)),
        "REELFORGE_HOME": str(tmp_path / "home"), "REELFORGE_ALLOWED_INPUT_ROOTS": str(tmp_path),
        "REELFORGE_CONFIRM_ABOVE_USD": "0.05", "REELFORGE_POLL_MIN_INTERVAL_S": "0.1",
        "REELFORGE_POLL_MAX_INTERVAL_S": "0.3", "REELFORGE_QUEUE_POLL_S": "0.05",
        "RUNWAYML_API_SECRET": emu.api_key, "RUNWAYML_BASE_URL": emu.url,
    }
    if os.environ.get("PYTHONPATH"):  # a worktree's sources first, as the test process has them
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    params = StdioServerParameters(command=sys.executable, args=["-m", "reelforge", "serve"], env=env, cwd=str(tmp_path))
    async with Client(params) as client:
        yield client


class Host:
    """The browser side: the host page, its iframe, and the relay to the real session."""

    def __init__(self, page: Any, client: Client, html: str) -> None:
        self.page, self.client, self.html = page, client, html
        self.relayed: list[tuple[str, dict[str, Any]]] = []

    async def relay(self, method: str, params_json: str) -> str:
        params = json.loads(params_json)
        self.relayed.append((method, params))
        if method == "tools/call":
            result = await self.client.call_tool(params["name"], params.get("arguments") or {})
        else:
            result = await self.client.read_resource(params["uri"])
        return json.dumps(result.model_dump(mode="json", by_alias=True, exclude_none=True))

    async def mount(self, tool: str, args: dict[str, Any]) -> Any:
        """Call `tool` as the model would, then show its result in a fresh app view; returns the frame."""
        result = await self.client.call_tool(tool, args)
        payload = result.model_dump(mode="json", by_alias=True, exclude_none=True)
        await self.page.evaluate("([h, t, a, r]) => window.mountApp(h, t, a, r)", [self.html, tool, args, payload])
        await self.page.wait_for_function("() => window.hostLog.includes('ui/notifications/initialized')")
        frame = await (await self.page.query_selector("#app")).content_frame()
        return frame

    async def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@asynccontextmanager
async def browser_host(client: Client, executable: str) -> AsyncIterator[Host]:
    from playwright.async_api import async_playwright

    html = (await client.read_resource(APP_URI)).contents[0]
    assert html.mime_type == "text/html;profile=mcp-app"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 680, "height": 960})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            host = Host(page, client, html.text)
            await page.expose_function("mcpRelay", host.relay)
            await page.goto(HOST_PAGE.as_uri())
            yield host
            assert not errors, f"script errors in the page: {errors}"
        finally:
            await browser.close()


async def _state(frame: Any) -> dict[str, Any]:
    return await frame.evaluate("""() => ({
        status: document.getElementById('job-status').textContent,
        width: parseFloat(document.querySelector('#job-bar > div').style.width) || 0,
        indeterminate: document.getElementById('job-bar').classList.contains('indeterminate'),
    })""")


async def _until(frame: Any, script: str, timeout_s: float = 30.0) -> Any:
    handle = await frame.wait_for_function(script, timeout=timeout_s * 1000)
    return await handle.json_value()


async def test_approve_progress_and_play(tmp_path: Path, emu: RunwayEmulator, chromium: str) -> None:
    emu.task_seconds = 6.0  # long enough to watch the bar move
    async with serve(tmp_path, emu) as client, browser_host(client, chromium) as host:
        # The paid call is refused above the threshold; the app shows the quote with its buttons.
        frame = await host.mount("generate_video", {"request": {**PAID, "wait_seconds": 0}})
        approve = frame.locator("#approve")
        await approve.wait_for(state="visible")
        price = await frame.locator("#quote-price").text_content()
        assert price.startswith("$") and float(price[1:]) > 0.05, price
        await host.shot("approve")
        assert emu.count("create") == 0

        # Approve: the app calls the tool again with confirm=true through the host, then shows the job.
        await approve.click()
        await _until(frame, "() => !document.getElementById('job').hidden && document.getElementById('job-id').textContent")
        again = [p for m, p in host.relayed if m == "tools/call" and p["name"] == "generate_video"]
        assert again and again[0]["arguments"]["request"]["confirm"] is True
        widths: list[float] = []
        shot_taken = False
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            state = await _state(frame)
            if state["status"] == "succeeded":
                break
            if state["status"] == "running" and 0 < state["width"] < 100 and not state["indeterminate"]:
                if not widths or state["width"] > widths[-1]:
                    widths.append(state["width"])
                if len(widths) >= 2 and not shot_taken:
                    await host.shot("running")
                    shot_taken = True
            await anyio.sleep(0.1)
        assert len(widths) >= 2, f"the progress bar never advanced while running: {widths}"
        assert emu.count("create") == 1

        # Succeeded: the poster, then the proxy in the <video>, as long as the probed result.
        await _until(frame, "() => document.getElementById('job-status').textContent === 'succeeded'", 40)
        duration = await _until(frame, "() => { const v = document.getElementById('video');"
                                       " return v.readyState >= 1 && v.duration > 0 ? v.duration : false; }", 30)
        job_id = await frame.locator("#job-id").text_content()
        job = (await client.call_tool("get_job", {"job_id": job_id})).structured_content
        probed = probe(job["output"]["path"])
        assert abs(duration - probed.duration_s) < 0.1, (duration, probed.duration_s)
        assert await frame.locator("#video-path").text_content() == job["output"]["path"]
        assert (await frame.evaluate("() => document.getElementById('video').poster")).startswith("data:image/jpeg")
        proxy = probe(Path(job["output"]["path"]).with_name(Path(job["output"]["path"]).stem + ".proxy.mp4"))
        assert proxy.codec == "h264" and proxy.height <= 480 and abs(proxy.duration_s - probed.duration_s) < 0.1
        # It really plays: muted playback advances the clock.
        await frame.evaluate("() => { const v = document.getElementById('video'); v.muted = true; return v.play(); }")
        await _until(frame, "() => document.getElementById('video').currentTime > 0.3", 10)
        await frame.evaluate("() => document.getElementById('video').pause()")
        assert await frame.locator("#contact-sheet").get_attribute("src") or ""
        await host.shot("playing")

        # Decline: a second quote, declined, starts nothing and spends nothing.
        frame = await host.mount("generate_video", {"request": {**PAID, "prompt": "a second kite", "wait_seconds": 0}})
        await frame.locator("#decline").click()
        assert "Declined" in await frame.locator("#quote-outcome").text_content()
        assert await frame.locator("#approve").is_disabled()
        await anyio.sleep(0.3)
        assert emu.count("create") == 1

        # A quote from estimate_cost: Approve starts that model's job through generate_video.
        emu.task_seconds = None
        frame = await host.mount("estimate_cost", {"request": {**PAID, "prompt": "a third kite"}})
        assert "rw-api-reference" in await frame.locator("#quote-source").text_content()
        await host.shot("estimate")
        await frame.locator("#approve").click()
        await _until(frame, "() => document.getElementById('job-status').textContent === 'succeeded'", 40)
        assert emu.count("create") == 2


async def test_failed_job_and_timeline(tmp_path: Path, emu: RunwayEmulator, chromium: str) -> None:
    async with serve(tmp_path, emu) as client, browser_host(client, chromium) as host:
        # A compose job of free preview clips: the strip shows both clips, the transition and the title.
        timeline = {"preset": "draft", "clips": [
            {"generate": {"prompt": "Opening shot", "provider": "preview", "duration_s": 1, "resolution": "360p"},
             "transition": {"kind": "crossfade", "duration_s": 0.5}},
            {"generate": {"prompt": "The End", "provider": "preview", "duration_s": 1, "resolution": "360p"}},
        ], "titles": [{"text": "Hello app", "start_s": 0.2, "end_s": 1.0}]}
        frame = await host.mount("compose_timeline", {"request": {"timeline": timeline, "name": "app", "wait_seconds": 0}})
        await _until(frame, "() => document.querySelectorAll('#timeline-strip .clip').length === 2")
        assert "crossfade" in await frame.locator("#timeline-strip .transition").text_content()
        assert "Hello app" in await frame.locator("#timeline-titles").text_content()
        assert "Opening shot" in await frame.locator("#timeline-strip .clip").first.text_content()
        await _until(frame, "() => document.getElementById('job-status').textContent === 'succeeded'", 60)
        await _until(frame, "() => document.getElementById('video').duration > 0", 30)
        await host.shot("timeline")

        # A batch of two free clips: the grid shows each item, the comparison sheet and the reel.
        items = [{"prompt": f"shot {i}", "provider": "preview", "duration_s": 1, "resolution": "360p"} for i in (1, 2)]
        frame = await host.mount("generate_batch", {"request": {"items": items, "reel": "sequential", "wait_seconds": 0}})
        await _until(frame, "() => document.getElementById('job-status').textContent === 'succeeded'", 60)
        await _until(frame, "() => [...document.querySelectorAll('#batch-grid .cell .status')]"
                            ".filter(s => s.textContent === 'succeeded').length === 2", 20)
        await _until(frame, "() => document.getElementById('batch-sheet').naturalWidth > 0", 20)
        # Its reel plays in the viewer: two 1 s clips one after another.
        await _until(frame, "() => document.getElementById('video').duration > 0", 30)
        reel_s = await frame.evaluate("() => document.getElementById('video').duration")
        assert abs(reel_s - 2.0) < 0.15, reel_s
        await host.shot("batch")

        # A paid job the provider fails: the app shows the provider's message, not a spinner.
        emu.fail_next = ("SAFETY.INPUT.TEXT", "The prompt was flagged")
        frame = await host.mount("generate_video", {"request": {**PAID, "prompt": "a storm", "confirm": True,
                                                                "wait_seconds": 0}})
        await _until(frame, "() => document.getElementById('job-status').textContent === 'failed'", 40)
        message = await frame.locator("#job-error").text_content()
        assert "flagged" in message and await frame.locator("#job-error").is_visible(), message
        assert await frame.locator("#player").is_hidden()
        await host.shot("failed")
