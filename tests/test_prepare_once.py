"""Each approved call is prepared once: the approval question and the launch share one `Prepared`
(preparing resolves DNS for URL inputs and probes files, so twice would be slow and racy)."""

from __future__ import annotations

import dataclasses

import pytest
from client_utils import make_client

from reelforge.studio import operations

REQUEST = {"prompt": "a lighthouse at dusk", "provider": "preview", "duration_s": 1, "wait_seconds": 0}


@pytest.fixture
def prepare_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    for kind, op in list(operations.OPERATIONS.items()):
        def counted(studio, request, _prepare=op.prepare, _kind=kind):
            calls.append(_kind)
            return _prepare(studio, request)

        monkeypatch.setitem(operations.OPERATIONS, kind, dataclasses.replace(op, prepare=counted))
    return calls


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("confirm", [False, True])
async def test_a_generate_call_is_prepared_once(settings, prepare_calls, mode, confirm) -> None:
    async with make_client(settings, mode=mode) as client:
        result = await client.call_tool("generate_video", {"request": {**REQUEST, "confirm": confirm}})
        assert not result.is_error, result.content[0].text
    assert prepare_calls == ["generate"]


async def test_a_refused_call_is_prepared_once_and_reports_why(settings, prepare_calls) -> None:
    async with make_client(settings) as client:
        result = await client.call_tool("generate_video", {"request": {**REQUEST, "aspect_ratio": "5:7"}})
    assert result.is_error and "[unsupported_parameter]" in result.content[0].text, result.content[0].text
    assert prepare_calls == ["generate"]


async def test_extend_loop_and_compose_are_prepared_once(settings, prepare_calls, tmp_path) -> None:
    async with make_client(settings) as client:
        first = await client.call_tool("generate_video", {"request": {**REQUEST, "wait_seconds": 60}})
        job_id = first.structured_content["job_id"]
        assert first.structured_content["status"] == "succeeded", first.content[0].text
        for tool, request in (
            ("make_loop", {"source": {"job_id": job_id}, "wait_seconds": 0}),
            ("compose_timeline", {"timeline": {"clips": [{"job_id": job_id}]}, "wait_seconds": 0}),
            ("extend_video", {"source": {"job_id": job_id}, "provider": "preview", "prompt": "on", "wait_seconds": 0}),
        ):
            result = await client.call_tool(tool, {"request": request})
            assert not result.is_error, result.content[0].text
    assert prepare_calls == ["generate", "loop", "compose", "extend"]
