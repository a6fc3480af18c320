"""Veo's per-model request limits, kept by the durable engine: each model with a limit has its own
queue (`remote.veo/<model>`), so a burst of jobs is started no faster than the account allows, and
the emulator, which answers 429 past its per-model quota as Google does, never has to. The limit is
the operator's (`REELFORGE_RATE_LIMITS`) or, where they set none, the catalog's `requests_per_minute`."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import anyio
import pytest
from provider_utils import require_provider

require_provider("veo")
from emulators.veo import VeoEmulator
from http_server_utils import bearer_client, serve_http

from reelforge.jobs.engine import queue_for, with_defaults
from reelforge.providers.registry import load_catalog, rate_limit_defaults
from reelforge.settings import Settings

pytestmark = pytest.mark.slow
TOKEN = "9a8b7c6d5e4f30211203f4e5d6c7b8a9" * 2
FAST = "veo-3.1-fast-generate-preview"


def test_the_catalogs_limits_apply_to_the_servers_own_key_unless_the_operator_set_one(settings: Settings) -> None:
    catalog = load_catalog()
    assert rate_limit_defaults(catalog, settings) == {}  # no Gemini key: no account to protect
    keyed = rate_limit_defaults(catalog, settings.with_provider_env(GEMINI_API_KEY="k"))
    assert keyed[f"veo/{FAST}"] == (10, 60.0) and keyed["veo/veo-3.1-generate-001"] == (50, 60.0)
    assert not any(key.split("/")[0] != "veo" for key in keyed)

    # The operator's entry for the provider replaces every model default; one for a model, that model's.
    assert with_defaults({"veo": (5, 60.0)}, keyed) == {"veo": (5, 60.0)}
    mine = with_defaults({f"veo/{FAST}": (2, 3.0)}, keyed)
    assert mine[f"veo/{FAST}"] == (2, 3.0) and mine["veo/veo-3.1-generate-001"] == (50, 60.0)
    assert queue_for("generate", "veo", mine, FAST) == f"remote.veo/{FAST}"
    assert queue_for("generate", "veo", {"veo": (5, 60.0)}, FAST) == "remote.veo"
    assert queue_for("generate", "runway", mine, "gen4_turbo") == "remote"
    assert queue_for("extend", "veo", mine, FAST) == "media"


async def test_a_burst_of_jobs_never_meets_the_providers_per_model_quota(tmp_path: Path) -> None:
    with VeoEmulator() as emu:
        emu.rpm, emu.rpm_window_s = {FAST: 2}, 3.0  # the provider's own quota: 2 creates per 3 s
        env = {"REELFORGE_HOME": str(tmp_path / "home"), "REELFORGE_HTTP_TOKEN": TOKEN,
               "GEMINI_API_KEY": emu.api_key, "GOOGLE_GEMINI_BASE_URL": emu.url,
               "REELFORGE_RATE_LIMITS": f"veo/{FAST}=2/3", "REELFORGE_QUEUE_POLL_S": "0.25",
               "REELFORGE_POLL_MIN_INTERVAL_S": "0.1", "REELFORGE_POLL_MAX_INTERVAL_S": "0.3",
               "REELFORGE_CONFIRM_ABOVE_USD": "1000"}
        url, server = serve_http(env, log=tmp_path / "server.log")
        try:
            async with bearer_client(url, TOKEN) as client:
                ids = []
                for i in range(5):
                    started = await client.call_tool("generate_video", {"request": {
                        "provider": "veo", "model": FAST, "prompt": f"a kite, take {i}", "duration_s": 4,
                        "wait_seconds": 0}})
                    assert not started.is_error, started.content[0].text
                    ids.append(started.structured_content["job_id"])
                other = await client.call_tool("generate_video", {"request": {
                    "provider": "veo", "model": "veo-3.1-generate-preview", "prompt": "a gull", "duration_s": 4,
                    "wait_seconds": 0}})
                ids.append(other.structured_content["job_id"])
                with anyio.fail_after(120):
                    done = []
                    for job_id in ids:
                        while (job := (await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 10})
                                       ).structured_content)["status"] not in ("succeeded", "failed", "canceled", "unknown"):
                            pass
                        done.append(job)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=15)
        assert [j["status"] for j in done] == ["succeeded"] * 6, [(j["status"], j.get("error")) for j in done]
        creates = emu.requests_to("create")
        assert len(creates) == 6  # no 429 was met, so nothing was retried
        fast = sorted(r.at for r in creates if FAST in r.path)
        assert all(later - earlier >= 3.0 for earlier, later in zip(fast, fast[2:])), fast  # 2 per 3 s
    with sqlite3.connect(tmp_path / "home" / "engine.sqlite") as db:
        queues = dict(db.execute("SELECT workflow_uuid, queue_name FROM workflow_status").fetchall())
    assert [queues[job_id] for job_id in ids] == [f"remote.veo/{FAST}"] * 5 + ["remote.veo/veo-3.1-generate-preview"]
