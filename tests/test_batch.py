"""generate_batch: many generations under one quote and one confirmation, run with bounded
concurrency per provider, ending with one comparison sheet whose tiles and labels are probed.

Driven through a real MCP client against loopback emulators (runway, luma, minimax, together) and
the free preview renderer; the sheet is checked by its pixels: each tile holds its own child's
poster, and each label strip holds that child's own provider, model, cost and time as glyphs. A
batch's reel (side by side, or one after another) is probed the same way, frame by frame.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import numpy as np
import pytest
from client_utils import make_client, settle, until
from label_utils import check_labels, label_image
from provider_utils import needs_providers

from reelforge.jobs.store import JobStore
from reelforge.settings import Settings

pytestmark = needs_providers("runway", "luma", "minimax", "together")


@pytest.fixture
def emus() -> Iterator[dict]:
    from emulators.luma import LumaEmulator
    from emulators.minimax import MiniMaxEmulator
    from emulators.runway import RunwayEmulator
    from emulators.together import TogetherEmulator

    with RunwayEmulator() as rw, LumaEmulator() as lu, MiniMaxEmulator() as mm, TogetherEmulator() as tg:
        yield {"runway": rw, "luma": lu, "minimax": mm, "together": tg}


@pytest.fixture
def paid(settings: Settings, emus: dict) -> Settings:
    from emulators.minimax import API_KEY as MINIMAX_KEY
    from emulators.together import API_KEY as TOGETHER_KEY

    return settings.with_provider_env(
        RUNWAYML_API_SECRET=emus["runway"].api_key, RUNWAYML_BASE_URL=emus["runway"].url,
        LUMAAI_API_KEY=emus["luma"].api_key, LUMAAI_BASE_URL=emus["luma"].dream_machine_url,
        MINIMAX_API_KEY=MINIMAX_KEY, MINIMAX_API_HOST=emus["minimax"].url,
        TOGETHER_API_KEY=TOGETHER_KEY, TOGETHER_BASE_URL=emus["together"].url)


async def _batch(client, request: dict) -> dict:
    result = await client.call_tool("generate_batch", {"request": {**request, "wait_seconds": 0}})
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def _finished(client, job_id: str) -> dict:
    for _ in range(30):
        view = (await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 10})).structured_content
        if view["status"] in ("succeeded", "failed", "canceled", "unknown"):
            return view
    raise AssertionError(f"batch {job_id} never finished")


def _crop(img, box) -> np.ndarray:
    return np.asarray(img.crop((box.left, box.top, box.right, box.bottom)).convert("RGB"), dtype=np.float32)


def _poster_like(path: str, box) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as poster:
        return np.asarray(poster.convert("RGB").resize((box.right - box.left, box.bottom - box.top)), dtype=np.float32)


async def test_a_batch_across_providers_ends_with_one_sheet_labelled_from_its_jobs(paid, emus, tmp_path) -> None:
    emus["minimax"].fail_next = ("1027", "output video sensitive")  # one item fails; the others go on
    items = [{"prompt": "a red kite over the sea", "provider": "preview", "duration_s": 1},
             {"prompt": "a paper boat", "provider": "runway", "duration_s": 5},
             {"prompt": "a lantern on a pier", "provider": "luma", "model": "ray-2", "duration_s": 5},
             {"prompt": "a fox in snow", "provider": "minimax"},
             {"prompt": "a night market", "provider": "preview", "duration_s": 1}]
    async with make_client(paid) as client:
        started = await _batch(client, {"items": items, "confirm": True, "concurrency": 2})
        assert started["kind"] == "batch" and len(started["batch"]["items"]) == 5
        assert started["quote_usd"] > 0
        batch = await _finished(client, started["job_id"])
        assert batch["status"] == "succeeded", batch
        rows = batch["batch"]["items"]
        assert [r["status"] for r in rows] == ["succeeded", "succeeded", "succeeded", "failed", "succeeded"]
        assert "output video sensitive" in rows[3]["error"]
        children = [(await client.call_tool("get_job", {"job_id": r["job_id"]})).structured_content for r in rows]
    assert any("1 item(s) failed: 3" in n for n in batch["notes"])
    assert sum(emus[p].count("create") for p in ("runway", "luma", "minimax")) == 3  # one create each, never twice
    store = JobStore.open(paid)
    try:
        rows_ok = [store.require(c["job_id"]) for c in children if c["status"] == "succeeded"]
        assert all(j.parents == [batch["job_id"]] for j in rows_ok)
        assert batch["cost_usd"] == pytest.approx(sum(j.cost_usd or 0 for j in map(store.require, (c["job_id"] for c in children))))
    finally:
        store.close()
    _check_sheet(batch["batch"]["sheet_path"], rows_ok, tmp_path)


def _check_sheet(sheet_path: str, rows_ok: list, tmp_path: Path) -> None:
    """The sheet: one tile per succeeded item, in item order, each holding its own child's poster."""
    from PIL import Image

    from reelforge.media.comparison import Tile, comparison_sheet

    labels = [[f"{j.provider} / {j.model}", f"${j.cost_usd or 0:.2f}  {round(j.finished_at - j.created_at, 1)} s"]
              for j in rows_ok]
    layout = comparison_sheet([Tile(Path(j.outputs["poster_path"]), lab) for j, lab in zip(rows_ok, labels)],
                              tmp_path / "geometry.jpg")  # the geometry only; the batch's own file is probed
    with Image.open(sheet_path) as sheet:
        assert sheet.size == (layout.width, layout.height)
        for n, job in enumerate(rows_ok):
            tile = _crop(sheet, layout.posters[n])
            errors = [np.abs(tile - _poster_like(other.outputs["poster_path"], layout.posters[n])).mean() for other in rows_ok]
            assert errors[n] < 12, f"tile {n} does not hold its poster (mean error {errors[n]:.1f})"
            assert errors[n] == min(errors), f"tile {n} looks more like another item's poster: {errors}"
            # The label strip holds glyphs, and exactly this job's figures: compared with each label drawn here.
            strip = _crop(sheet, layout.labels[n])
            assert (strip.max(axis=2) > 150).sum() > 200, f"tile {n}: no glyph pixels in its label"
            wanted = [np.abs(strip - label_image(lab, strip.shape[1::-1])).mean() for lab in labels]
            assert wanted[n] < 6 and wanted[n] == min(wanted), f"tile {n}: label does not read {labels[n]}: {wanted}"


@pytest.mark.slow
async def test_a_side_by_side_reel_plays_every_succeeded_clip_in_its_labelled_tile(paid, emus, tmp_path) -> None:
    from reelforge.media.frames import frame_at
    from reelforge.media.probe import probe
    from reelforge.media.reel import ReelClip, compose_reel

    emus["minimax"].fail_next = ("1027", "output video sensitive")  # a failed item stays out of the reel
    items = [{"prompt": "a red kite over the sea", "provider": "preview", "duration_s": 1},
             {"prompt": "a paper boat", "provider": "runway", "duration_s": 2},
             {"prompt": "a fox in snow", "provider": "minimax"},
             {"prompt": "a night market", "provider": "together"}]
    async with make_client(paid) as client:
        started = await _batch(client, {"items": items, "confirm": True, "reel": "side_by_side"})
        batch = await _finished(client, started["job_id"])
    assert batch["status"] == "succeeded", batch
    assert [r["status"] for r in batch["batch"]["items"]] == ["succeeded", "succeeded", "failed", "succeeded"]
    store = JobStore.open(paid)
    try:
        jobs = [store.require(r["job_id"]) for r in batch["batch"]["items"] if r["status"] == "succeeded"]
    finally:
        store.close()
    labels = [[f"{j.provider} / {j.model}", f"${j.cost_usd or 0:.2f}  {round(j.finished_at - j.created_at, 1)} s"]
              for j in jobs]
    reel = probe(batch["batch"]["reel_path"])
    geometry = await compose_reel("side_by_side", [ReelClip(Path(j.outputs["path"]), lab) for j, lab in zip(jobs, labels)],
                                  tmp_path / "geometry.mp4")  # where the tiles go; the batch's own file is probed
    assert (reel.width, reel.height, reel.codec, reel.has_audio) == (geometry.width, geometry.height, "h264", False)
    longest = max(probe(j.outputs["path"]).duration_s for j in jobs)
    assert reel.width <= 1920 and abs(reel.duration_s - longest) <= 1 / reel.fps
    for at in (0.5, reel.duration_s - 0.05):  # the 1 s preview holds its last frame to the end
        frame = frame_at(batch["batch"]["reel_path"], min(reel.frames - 1, round(at * reel.fps)))
        check_labels(frame, geometry.labels, labels, [0, 1, 2], geometry.font_px)
        for n, job in enumerate(jobs):  # each tile shows its own clip at that moment (or its last frame)
            clip = probe(job.outputs["path"])
            own = frame_at(job.outputs["path"], min(clip.frames - 1, round(at * clip.fps)))
            assert _fitted_error(frame, geometry.pictures[n], own) < 20, f"tile {n} at {at:.2f} s is not its clip"


def _fitted_error(frame: np.ndarray, box, own: np.ndarray) -> float:
    """Mean difference between a tile and its clip's frame scaled into it (aspect kept, centred)."""
    from PIL import Image

    bw, bh = box.right - box.left, box.bottom - box.top
    scale = min(bw / own.shape[1], bh / own.shape[0])
    w, h = round(own.shape[1] * scale), round(own.shape[0] * scale)
    left, top = box.left + (bw - w) // 2, box.top + (bh - h) // 2
    want = np.asarray(Image.fromarray(own).resize((w, h)), dtype=np.float32)
    got = frame[top:top + h, left:left + w].astype(np.float32)
    return float(np.abs(got[2:-2, 2:-2] - want[2:-2, 2:-2]).mean())  # edges blur into the background


async def test_a_side_by_side_reel_of_more_than_nine_items_is_refused_before_anything_runs(paid, emus) -> None:
    items = [{"prompt": f"card {i}", "provider": "preview", "duration_s": 1} for i in range(10)]
    async with make_client(paid) as client:
        result = await client.call_tool("generate_batch", {"request": {"items": items, "reel": "side_by_side"}})
        assert result.is_error
        text = result.content[0].text
        assert "reel" in text and "9" in text and "sequential" in text and "Nothing in the batch was started" in text, text
        assert (await client.call_tool("list_jobs", {})).structured_content["jobs"] == []


async def test_twenty_items_across_four_providers_end_in_one_sheet(paid, emus, tmp_path) -> None:
    picks = [("runway", {}), ("luma", {"model": "ray-2"}), ("minimax", {}), ("together", {})]
    items = [{"prompt": f"shot {i} of a harbour at dawn", "provider": p, **extra}
             for i in range(5) for p, extra in picks]
    async with make_client(paid) as client:
        started = await _batch(client, {"items": items, "confirm": True, "concurrency": 3})
        batch = await _finished(client, started["job_id"])
    assert batch["status"] == "succeeded", batch
    rows = batch["batch"]["items"]
    assert len(rows) == 20 and all(r["status"] == "succeeded" for r in rows), rows
    assert all(emus[p].count("create") == 5 for p, _ in picks)  # one create per item, never twice
    store = JobStore.open(paid)
    try:
        children = [store.require(r["job_id"]) for r in rows]
    finally:
        store.close()
    assert [c.provider for c in children] == [p for _ in range(5) for p, _ in picks]
    _check_sheet(batch["batch"]["sheet_path"], children, tmp_path)


async def test_compare_sends_one_prompt_with_the_same_seed_to_each_provider(paid, emus) -> None:
    compare = {"prompt": "a lighthouse at dusk", "providers_or_models": ["runway", "together", "preview"], "seed": 4242}
    async with make_client(paid) as client:
        started = await _batch(client, {"compare": compare, "confirm": True})
        batch = await _finished(client, started["job_id"])
    assert batch["status"] == "succeeded", batch
    assert [(r["provider"], r["status"]) for r in batch["batch"]["items"]] == [
        ("runway", "succeeded"), ("together", "succeeded"), ("preview", "succeeded")]
    for name in ("runway", "together"):
        bodies = [json.loads(r.body) for r in emus[name].requests_to("create")]
        assert len(bodies) == 1, name
        assert bodies[0]["seed"] == 4242 and bodies[0]["promptText" if name == "runway" else "prompt"] == compare["prompt"]
    store = JobStore.open(paid)
    try:
        preview = store.require(batch["batch"]["items"][2]["job_id"])
        assert preview.request["seed"] == 4242 and preview.request["prompt"] == compare["prompt"]
    finally:
        store.close()


@pytest.mark.parametrize("bad, field", [
    ({"prompt": "x", "provider": "runway", "duration_s": 999}, "items[1].duration_s"),
    ({"prompt": "x", "provider": "luma", "model": "no-such-model"}, "items[1]"),
    ({"prompt": "x", "provider": "runway", "confirm": True}, "items[1].confirm"),
])
async def test_an_item_that_cannot_be_planned_refuses_the_whole_batch(paid, emus, bad, field) -> None:
    items = [{"prompt": "a paper boat", "provider": "runway", "duration_s": 5}, bad]
    async with make_client(paid) as client:
        result = await client.call_tool("generate_batch", {"request": {"items": items, "confirm": True}})
        assert result.is_error
        text = result.content[0].text
        assert field in text and "Nothing in the batch was started or paid" in text, text
        assert (await client.call_tool("list_jobs", {})).structured_content["jobs"] == []
    assert all(e.count("create") == 0 for e in emus.values())


async def test_a_batch_above_the_threshold_needs_one_confirmation(paid, emus) -> None:
    items = [{"prompt": f"shot {i}", "provider": "runway", "duration_s": 5} for i in range(3)]
    async with make_client(paid.model_copy(update={"confirm_above_usd": 1.0})) as client:
        refused = await client.call_tool("generate_batch", {"request": {"items": items}})
        assert refused.is_error and "confirm=true" in refused.content[0].text and "batch of 3" in refused.content[0].text
        assert emus["runway"].count("create") == 0
        batch = await _finished(client, (await _batch(client, {"items": items, "confirm": True}))["job_id"])
    assert batch["status"] == "succeeded" and emus["runway"].count("create") == 3


async def test_five_hundred_items_are_one_call_and_children_are_made_as_slots_free(settings) -> None:
    items = [{"prompt": f"card {i}", "provider": "preview", "duration_s": 1} for i in range(500)]
    async with make_client(settings) as client:
        await client.call_tool("list_jobs", {})  # the studio is up: the timing is the call alone
        began = time.perf_counter()
        result = await client.call_tool("generate_batch", {"request": {"items": items, "concurrency": 2, "wait_seconds": 0}})
        took = time.perf_counter() - began
        print(f"\n500-item batch: one generate_batch call took {took:.2f} s")
        assert not result.is_error, result.content[0].text
        batch_id = result.structured_content["job_id"]
        store = JobStore.open(settings)
        try:
            await until(lambda: len(store.children(batch_id)) >= 2, timeout=30)
            made = store.children(batch_id)
            in_flight = [c for c in made if not c.status.terminal]
            assert len(in_flight) <= 2 and len(made) < 20, f"{len(made)} children made at once"
            assert [j.kind for j in store.list(limit=50) if not j.parents] == ["batch"]  # the call made one job
            view = (await client.call_tool("get_job", {"job_id": batch_id})).structured_content
            assert len(view["batch"]["items"]) == 500 and view["batch"]["counts"].get("waiting", 0) >= 480
            # Cancel the batch: its unfinished children are canceled, and no new child is made after.
            canceled = (await client.call_tool("cancel_job", {"job_id": batch_id})).structured_content
            assert canceled["status"] == "canceled"
            await until(lambda: all(c.status.terminal for c in store.children(batch_id)), timeout=30)
            count = len(store.children(batch_id))
            await anyio.sleep(1.0)
            after = store.children(batch_id)
            assert len(after) == count and count < 20
            assert any(c.status.value == "canceled" for c in after), [c.status for c in after]
        finally:
            store.close()


async def test_a_restarted_batch_waits_for_the_same_children(paid, emus) -> None:
    runway = emus["runway"]
    runway.hold_jobs = True  # every job stays running at the provider until released
    items = [{"prompt": f"shot {i}", "provider": "runway", "duration_s": 5} for i in range(3)]
    async with make_client(paid) as client:
        batch_id = (await _batch(client, {"items": items, "confirm": True, "concurrency": 2}))["job_id"]
        await until(lambda: runway.count("create") == 2, timeout=30)
        store = JobStore.open(paid)
        try:
            # Children are found by their step key (a batch does not rewrite its big row per child).
            before = {key: [c.id for c in store.steps(key, parent=batch_id)] for key in ("item_0", "item_1")}
            assert all(len(ids) == 1 for ids in before.values()), before
            before = {key: ids[0] for key, ids in before.items()}
        finally:
            store.close()
    # The server stopped with two children running at the provider; they finish while it is down.
    runway.hold_jobs = False
    for job in runway.jobs.values():
        job.held = False
    async with make_client(paid) as client:  # a new start resumes the batch
        batch = await _finished(client, batch_id)
    assert batch["status"] == "succeeded", batch
    rows = batch["batch"]["items"]
    assert [r["status"] for r in rows] == ["succeeded"] * 3
    assert {f"item_{r['index']}": r["job_id"] for r in rows[:2]} == before, "a child was made again"
    assert runway.count("create") == 3, "an item was paid for twice"


def _cli(tmp_path: Path, settings: Settings, payload: object, *extra: str, env_extra: dict | None = None):
    import os
    import subprocess
    import sys

    file = tmp_path / "batch.json"
    file.write_text(json.dumps(payload))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REELFORGE_", "MINIMAX_"))}
    env.update({"REELFORGE_HOME": str(settings.home), "REELFORGE_POLL_MIN_INTERVAL_S": "0.02",
                "REELFORGE_POLL_MAX_INTERVAL_S": "0.1", **(env_extra or {})})
    return subprocess.run([sys.executable, "-m", "reelforge", "batch", str(file), *extra], env=env,
                          capture_output=True, text=True, timeout=180, cwd=tmp_path)


def test_the_command_line_runs_a_batch_and_says_how_it_went(settings, tmp_path) -> None:
    from emulators.minimax import API_KEY, MiniMaxEmulator

    cards = [{"prompt": "card one", "provider": "preview", "duration_s": 1},
             {"prompt": "card two", "provider": "preview", "duration_s": 1}]
    done = _cli(tmp_path, settings, cards, "--json", "--reel", "sequential")
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert view["status"] == "succeeded" and [r["status"] for r in view["batch"]["items"]] == ["succeeded"] * 2
    assert Path(view["batch"]["sheet_path"]).is_file() and "items ended" in done.stderr  # progress on stderr
    from reelforge.media.probe import probe

    store = JobStore.open(settings)
    try:
        clips = [probe(store.require(r["job_id"]).outputs["path"]) for r in view["batch"]["items"]]
    finally:
        store.close()
    reel = probe(view["batch"]["reel_path"])  # one clip after the other: their lengths add up
    assert reel.codec == "h264" and abs(reel.duration_s - sum(c.duration_s for c in clips)) <= 1 / reel.fps

    refused = _cli(tmp_path, settings, [cards[0], {"prompt": "x", "provider": "preview", "duration_s": -1}])
    assert refused.returncode == 2 and "items[1].duration_s" in refused.stderr and not refused.stdout

    with MiniMaxEmulator() as emu:
        emu.fail_next = ("1027", "output video sensitive")
        env = {"MINIMAX_API_KEY": API_KEY, "MINIMAX_API_HOST": emu.url, "REELFORGE_ALLOW_PRIVATE_URLS": "true"}
        some = _cli(tmp_path, settings, [cards[0], {"prompt": "a fox", "provider": "minimax"}], "--confirm",
                    env_extra=env)
    assert some.returncode == 1, some.stderr
    lines = some.stdout.splitlines()
    assert lines[0].split("\t")[1] == "succeeded" and lines[1].split("\t")[1] == "failed" and lines[-1].startswith("sheet\t")
