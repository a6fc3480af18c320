"""An idempotency key names one request: the same key with another request is refused, naming the
first job, while the same key with the same request still re-attaches (issue 8, item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelforge.errors import IdempotencyConflict
from reelforge.jobs.job import Job
from reelforge.jobs.store import JobStore
from test_server_preview import finish

REQUEST = {"prompt": "a red kite", "provider": "preview", "duration_s": 1, "resolution": "360p",
           "idempotency_key": "kite-1", "wait_seconds": 0}


async def test_same_key_other_request_is_refused_naming_the_first_job(client) -> None:
    first = await client.call_tool("generate_video", {"request": REQUEST})
    assert not first.is_error, first.content[0].text
    first_id = first.structured_content["job_id"]

    other = await client.call_tool("generate_video", {"request": {**REQUEST, "prompt": "a blue kite"}})
    assert other.is_error, "a different request under a used key was silently re-attached"
    text = other.content[0].text
    assert "[idempotency_conflict]" in text and first_id in text and "kite-1" in text, text

    again = await client.call_tool("generate_video", {"request": {**REQUEST, "wait_seconds": 1}})
    assert not again.is_error and again.structured_content["job_id"] == first_id
    jobs = (await client.call_tool("list_jobs", {})).structured_content["jobs"]
    assert [j["job_id"] for j in jobs] == [first_id]
    await finish(client, first)


async def test_key_is_per_request_across_tools(client, tmp_path: Path) -> None:
    """A key first used by generate_video cannot start a loop either."""
    first = await client.call_tool("generate_video", {"request": REQUEST})
    clip = await finish(client, first)
    loop = await client.call_tool("make_loop", {"request": {
        "source": {"job_id": clip["job_id"]}, "idempotency_key": "kite-1", "wait_seconds": 0}})
    assert loop.is_error and "[idempotency_conflict]" in loop.content[0].text, loop.content[0].text


def test_store_refuses_a_raced_insert_with_another_request(ledger: Path | str) -> None:
    """Two processes that both passed the re-attach check race on the key's UNIQUE constraint: the loser
    re-attaches only when its request is the same one."""
    store = JobStore(ledger)
    a = store.insert(Job(kind="generate", idempotency_key="k", call_hash="h1"))
    assert store.insert(Job(kind="generate", idempotency_key="k", call_hash="h1")).id == a.id
    with pytest.raises(IdempotencyConflict) as info:
        store.insert(Job(kind="generate", idempotency_key="k", call_hash="h2"))
    assert a.id in str(info.value)
    assert len(store.list()) == 1
