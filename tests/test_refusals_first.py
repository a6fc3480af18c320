"""Refusals come before the ledger: a request that cannot succeed is refused with a message naming
the field, and no job row exists afterwards (issue 8, item 11). Unknown filters are errors, not
empty lists.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from media_utils import make_clip, make_image


def _text(result) -> str:
    assert result.is_error, result.content[0].text if result.content else result
    return result.content[0].text


async def _no_jobs(client) -> None:
    jobs = (await client.call_tool("list_jobs", {})).structured_content["jobs"]
    assert jobs == [], [(j["job_id"], j["status"], j["error"]) for j in jobs]


@pytest.mark.parametrize("prompt", ["", "   "])
async def test_empty_prompt_is_refused_for_text_to_video(client, prompt: str) -> None:
    text = _text(await client.call_tool("generate_video", {"request": {"prompt": prompt, "provider": "preview"}}))
    assert "[bad_request]" in text and "prompt" in text, text
    await _no_jobs(client)


async def test_empty_prompt_is_fine_with_an_image(client, tmp_path: Path) -> None:
    image = make_image(tmp_path / "a.png")
    result = await client.call_tool("generate_video", {"request": {
        "provider": "preview", "image": str(image), "duration_s": 0.5, "wait_seconds": 0}})
    assert not result.is_error, result.content[0].text


async def test_empty_prompt_is_refused_in_an_inline_compose_clip(client) -> None:
    text = _text(await client.call_tool("compose_timeline", {"request": {"timeline": {"clips": [
        {"generate": {"prompt": "", "provider": "preview", "duration_s": 1}}]}}}))
    assert "prompt" in text, text
    await _no_jobs(client)


async def test_unreadable_image_is_refused_before_the_ledger(client, tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8)
    text = _text(await client.call_tool("generate_video", {"request": {
        "prompt": "x", "provider": "preview", "duration_s": 1, "image": str(broken)}}))
    assert "image: broken.png could not be read as an image" in text, text
    await _no_jobs(client)


async def test_truncated_image_is_refused_before_the_ledger(client, tmp_path: Path) -> None:
    whole = make_image(tmp_path / "whole.png", size=(320, 180)).read_bytes()
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole[: len(whole) // 2])
    text = _text(await client.call_tool("make_loop", {"request": {
        "generate": {"prompt": "x", "provider": "preview", "duration_s": 1}, "image": str(cut)}}))
    assert "image: cut.png could not be read" in text, text
    await _no_jobs(client)


async def test_url_for_the_preview_provider_is_refused_before_the_ledger(settings, tmp_path: Path) -> None:
    from client_utils import make_client

    local = settings.model_copy(update={"allow_private_urls": True})  # the URL itself passes vetting
    async with make_client(local) as client:
        text = _text(await client.call_tool("generate_video", {"request": {
            "prompt": "x", "provider": "preview", "duration_s": 1, "image": "http://127.0.0.1:9/a.png"}}))
        assert "image" in text and "URL" in text and "path" in text, text
        await _no_jobs(client)


async def test_subtitles_extension_is_refused_before_the_ledger(client, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", seconds=1)
    subs = tmp_path / "subs.txt"
    subs.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    text = _text(await client.call_tool("compose_timeline", {"request": {"timeline": {
        "clips": [{"path": str(clip)}], "subtitles_path": str(subs)}}}))
    assert "timeline.subtitles_path" in text and ".srt" in text, text
    await _no_jobs(client)


async def test_unknown_status_filter_is_an_error(client) -> None:
    text = _text(await client.call_tool("list_jobs", {"status": "finished"}))
    assert "status" in text and "succeeded" in text and "running" in text, text


async def test_known_status_filter_still_works(client) -> None:
    result = await client.call_tool("list_jobs", {"status": "succeeded"})
    assert not result.is_error and result.structured_content == {"jobs": []}


@pytest.mark.parametrize(("args", "named"), [({"provider": "runwayy"}, "runway"), ({"input": "sound"}, "first_last")])
async def test_unknown_model_filters_are_errors(client, args: dict, named: str) -> None:
    text = _text(await client.call_tool("list_models", args))
    assert named in text, text


async def test_model_filters_still_work(client) -> None:
    rows = (await client.call_tool("list_models", {"provider": "preview", "input": "image"})).structured_content
    assert rows["models"] and {m["provider"] for m in rows["models"]} == {"preview"}
