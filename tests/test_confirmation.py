"""Paid jobs above the threshold need the user's approval: elicitation where the host supports it,
`confirm=true` otherwise. Declined or unconfirmed calls send nothing to the provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from provider_utils import require_provider

require_provider("minimax")  # the rest of this module needs its package
from client_utils import make_client
from emulators.minimax import API_KEY, MiniMaxEmulator
from mcp.types import ElicitResult

from reelforge.settings import Settings

REQUEST = {"prompt": "a paid clip", "provider": "minimax", "wait_seconds": 0}


@pytest.fixture
def emu() -> Iterator[MiniMaxEmulator]:
    with MiniMaxEmulator() as emulator:
        yield emulator


@pytest.fixture
def paid_settings(settings: Settings, emu: MiniMaxEmulator) -> Settings:
    return settings.with_provider_env(MINIMAX_API_KEY=API_KEY, MINIMAX_API_HOST=emu.url).model_copy(
        update={"confirm_above_usd": 0.05})


def _answer(approve: bool | None):
    async def callback(ctx, params) -> ElicitResult:
        assert "$" in params.message and "Spend it?" in params.message
        if approve is None:
            return ElicitResult(action="decline")
        return ElicitResult(action="accept", content={"approve": approve})

    return callback


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_elicitation_accept_starts_the_job(paid_settings, emu, mode) -> None:
    async with make_client(paid_settings, mode=mode, elicitation_callback=_answer(True)) as client:
        result = await client.call_tool("generate_video", {"request": REQUEST})
        assert not result.is_error, result.content[0].text
        job = result.structured_content
        assert job["quote_usd"] > 0.05
        done = await client.call_tool("get_job", {"job_id": job["job_id"], "wait_seconds": 30})
        assert done.structured_content["status"] == "succeeded", done.content[0].text
    assert emu.count("create") == 1


@pytest.mark.parametrize("approve", [False, None])
async def test_elicitation_decline_sends_nothing(paid_settings, emu, approve) -> None:
    async with make_client(paid_settings, elicitation_callback=_answer(approve)) as client:
        result = await client.call_tool("generate_video", {"request": REQUEST})
        assert result.is_error
        jobs = await client.call_tool("list_jobs", {})
        assert jobs.structured_content["jobs"] == []
    assert emu.count("create") == 0


async def test_without_elicitation_confirm_true_is_the_fallback(paid_settings, emu) -> None:
    async with make_client(paid_settings) as client:
        refused = await client.call_tool("generate_video", {"request": REQUEST})
        assert refused.is_error and "confirm=true" in refused.content[0].text
        assert emu.count("create") == 0
        accepted = await client.call_tool("generate_video", {"request": {**REQUEST, "confirm": True}})
        assert not accepted.is_error, accepted.content[0].text
        done = await client.call_tool("get_job", {"job_id": accepted.structured_content["job_id"], "wait_seconds": 30})
        assert done.structured_content["status"] == "succeeded", done.content[0].text
    assert emu.count("create") == 1
