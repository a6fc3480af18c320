"""A shared HTTP service with a tiers file, end to end: a real `reelforge serve --transport http`
process, real MCP clients with two users' bearer tokens, and the Runway emulator. Bob's own
(encrypted) Runway key pays for his job; Alice's tier refuses Runway and hides Bob's jobs; no key,
token or passphrase reaches the server's log."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from http_server_utils import bearer_client, serve_http
from provider_utils import needs_providers
from test_tiers import ALICE_TOKEN, BOB_TOKEN, write_tiers

from reelforge.tiers import encrypt_key

pytestmark = [pytest.mark.slow, needs_providers("runway")]
PASSPHRASE = "correct horse battery staple 42"


@pytest.fixture
def emu() -> Iterator[object]:
    from emulators.runway import RunwayEmulator

    with RunwayEmulator(api_key="key_bob_own_runway_0123") as emulator:
        yield emulator


@pytest.fixture
def server(tmp_path: Path, emu) -> Iterator[tuple[str, subprocess.Popen]]:
    tiers = write_tiers(tmp_path, bob_keys={"RUNWAYML_API_SECRET": encrypt_key(emu.api_key, PASSPHRASE)})
    url, proc = serve_http({
        "REELFORGE_HOME": str(tmp_path / "home"), "REELFORGE_TIERS_FILE": str(tiers), "REELFORGE_SECRET_KEY": PASSPHRASE,
        "RUNWAYML_BASE_URL": emu.url, "REELFORGE_POLL_MIN_INTERVAL_S": "0.05", "REELFORGE_POLL_MAX_INTERVAL_S": "0.2"})
    try:
        yield url, proc
    finally:
        proc.kill()


as_user = bearer_client


async def test_tiers_over_http(server, emu) -> None:
    url, proc = server
    async with as_user(url, BOB_TOKEN) as bob, as_user(url, ALICE_TOKEN) as alice:
        made = await bob.call_tool("generate_video", {"request": {"prompt": "a paper boat on a pond", "provider": "runway",
                                                                  "confirm": True, "wait_seconds": 120}})
        assert not made.is_error, made.content[0].text
        job = made.structured_content
        assert job["status"] == "succeeded", job
        assert emu.count("create") == 1
        assert emu.requests_to("create")[-1].headers["authorization"] == f"Bearer {emu.api_key}"  # Bob's own key

        refused = await alice.call_tool("generate_video", {"request": {"prompt": "a boat", "provider": "runway"}})
        assert refused.is_error and "[quota_exceeded]" in refused.content[0].text, refused.content[0].text
        assert "free" in refused.content[0].text and "runway" in refused.content[0].text
        hidden = await alice.call_tool("get_job", {"job_id": job["job_id"]})
        assert hidden.is_error and "[job_not_found]" in hidden.content[0].text, hidden.content[0].text
        listed = await alice.call_tool("list_jobs", {})
        assert listed.structured_content["jobs"] == []
        usage = json.loads((await alice.read_resource("reelforge://usage")).contents[0].text)
        assert usage["user"] == "alice" and usage["tier"] == "free" and usage["generations"] == 0
        assert len((await bob.call_tool("list_jobs", {})).structured_content["jobs"]) == 1
    assert emu.count("create") == 1
    proc.kill()
    _, err = proc.communicate(timeout=10)
    for secret in (emu.api_key, ALICE_TOKEN, BOB_TOKEN, PASSPHRASE):
        assert secret.encode() not in err, f"{secret[:6]}… reached the server log"
