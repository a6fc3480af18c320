"""Every error names the field or the cause and what to do: no bare exception names, no empty text,
no raw pydantic dumps with pydantic.dev links (issue 8, item 8).

The failures are real: SQLite's own "database or disk is full" (its page limit), the kernel's ENOSPC
(/dev/full), Pillow's decompression-bomb guard on a real PNG, the OS refusing a NUL byte in a path.
"""

from __future__ import annotations

import errno
import sqlite3
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from reelforge.errors import InvalidRequest, ReelforgeError


def _new_api():
    """Imported per test, so each test fails on its own (not the whole file) where the API is missing."""
    from reelforge import errors

    return errors


def _text(result) -> str:
    assert result.is_error, result
    return result.content[0].text


async def _ledger_jobs(client) -> list[dict]:
    return (await client.call_tool("list_jobs", {})).structured_content["jobs"]


# -- raw pydantic text never reaches the model -----------------------------------------------------------
async def test_out_of_range_argument_names_the_field_and_the_limit(client) -> None:
    text = _text(await client.call_tool("generate_video", {"request": {
        "prompt": "x", "provider": "preview", "duration_s": 999}}))
    assert "pydantic" not in text and "[type=" not in text, text
    assert "[bad_request]" in text and "request.duration_s" in text and "120" in text and "999" in text, text


async def test_unknown_argument_is_named(client) -> None:
    text = _text(await client.call_tool("generate_video", {"request": {"prompt": "x", "durration_s": 2}}))
    assert "pydantic" not in text and "request.durration_s" in text and "not a field" in text, text


async def test_inline_compose_generation_error_names_the_nested_field(client) -> None:
    text = _text(await client.call_tool("compose_timeline", {"request": {"timeline": {"clips": [
        {"generate": {"prompt": "x", "provider": "preview", "duration_s": 999}}]}}}))
    assert "pydantic" not in text and "validation error for" not in text, text
    assert "timeline.clips[0].generate.duration_s" in text and "120" in text, text


def test_validation_text_is_one_line_per_field_without_links() -> None:
    from pydantic import ValidationError

    from reelforge.studio.tool_schemas import GenerateRequest

    with pytest.raises(ValidationError) as caught:
        GenerateRequest(prompt="x", fps=0, seed=-1)
    text = _new_api().validation_text(caught.value)
    assert "fps: must be ≥ 1 (got 0)" in text and "seed: must be ≥ 0 (got -1)" in text, text
    assert "http" not in text and "\n" not in text


# -- a NUL byte in a path ----------------------------------------------------------------------------------
async def test_nul_byte_in_a_path_names_the_field(client) -> None:
    text = _text(await client.call_tool("generate_video", {"request": {
        "prompt": "x", "provider": "preview", "image": "/tmp/a\x00b.png"}}))
    assert "image" in text and "NUL" in text, text
    assert await _ledger_jobs(client) == []


async def test_nul_byte_in_a_timeline_path_names_the_field(client, tmp_path: Path) -> None:
    text = _text(await client.call_tool("compose_timeline", {"request": {"timeline": {"clips": [
        {"path": str(tmp_path / "a\x00.mp4")}]}}}))
    assert "timeline.clips[0].path" in text and "NUL" in text, text


# -- a decompression bomb ----------------------------------------------------------------------------------
def write_png_bomb(path: Path, width: int, height: int) -> Path:
    """A valid 1-bit PNG of black pixels: tiny on disk, huge once decoded (written row by row, so the
    test itself never holds the picture in memory)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize(("size", "shown"), [((20000, 20000), "400 megapixels"), ((10000, 10000), "10000x10000")])
async def test_decompression_bomb_is_refused_before_the_ledger(client, tmp_path: Path, size, shown) -> None:
    bomb = write_png_bomb(tmp_path / "bomb.png", *size)
    assert bomb.stat().st_size < 200_000
    text = _text(await client.call_tool("generate_video", {"request": {
        "prompt": "x", "provider": "preview", "duration_s": 1, "image": str(bomb)}}))
    assert "image: bomb.png" in text and shown in text and "smaller" in text, text
    assert "DecompressionBomb" not in text and "Internal error" not in text
    assert await _ledger_jobs(client) == []


def test_explain_decompression_bomb(tmp_path: Path) -> None:
    bomb = write_png_bomb(tmp_path / "bomb.png", 20000, 20000)
    with pytest.raises(Image.DecompressionBombError) as caught:
        Image.open(bomb)
    err = _new_api().explain(caught.value)
    assert isinstance(err, InvalidRequest) and "too large" in str(err) and "smaller" in str(err)


# -- disk full -------------------------------------------------------------------------------------------
def _full_ledger(path: Path) -> sqlite3.OperationalError:
    """SQLite's own SQLITE_FULL: a ledger that may not grow by one more page."""
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("CREATE TABLE t (x BLOB)")
    (pages,) = db.execute("PRAGMA page_count").fetchone()
    db.execute(f"PRAGMA max_page_count = {pages}")
    try:
        db.execute("INSERT INTO t VALUES (zeroblob(100000))")
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        db.close()
    raise AssertionError("SQLite accepted a write past max_page_count")


def test_explain_sqlite_disk_full(tmp_path: Path) -> None:
    exc = _full_ledger(tmp_path / "l.sqlite3")
    assert "full" in str(exc)
    err = _new_api().explain(exc)
    assert isinstance(err, _new_api().DiskFull) and err.code == "disk_full"
    assert "REELFORGE_HOME" in str(err) and "free" in str(err).lower()


def test_explain_kernel_enospc() -> None:
    try:
        with open("/dev/full", "wb", buffering=0) as handle:
            handle.write(b"x")
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
        err = _new_api().explain(exc)
    assert isinstance(err, _new_api().DiskFull) and "No space left" in str(err) and "free" in str(err).lower()


@pytest.mark.parametrize("blocked", ["home", "home/outputs"])
def test_explain_a_file_where_the_home_needs_a_folder(tmp_path: Path, blocked: str) -> None:
    (tmp_path / "home").write_text("a file, not a folder")
    with pytest.raises(OSError) as caught:  # EEXIST for the home itself, ENOTDIR below it
        (tmp_path / blocked).mkdir(parents=True, exist_ok=True)
    err = _new_api().explain(caught.value)
    assert isinstance(err, _new_api().StorageUnavailable), caught.value
    assert str(tmp_path / blocked) in str(err) and "REELFORGE_HOME" in err.hint


def test_explain_leaves_bugs_alone() -> None:
    assert _new_api().explain(KeyError("x")) is None
    assert isinstance(_new_api().explain(InvalidRequest("m")), ReelforgeError)


async def test_disk_full_ledger_says_so_through_the_server(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ledger cannot grow (SQLite's real SQLITE_FULL): the tool says the disk is full and what to do."""
    from client_utils import make_client
    from reelforge.jobs import store as store_module

    opened: list[store_module.JobStore] = []
    real_init = store_module.JobStore.__init__

    def recording_init(self, path: Path) -> None:  # the real store; the test only keeps a handle on it
        real_init(self, path)
        opened.append(self)

    monkeypatch.setattr(store_module.JobStore, "__init__", recording_init)
    async with make_client(settings) as client:
        await client.call_tool("list_jobs", {})  # the studio and its ledger are open now
        db = opened[-1]._db
        (pages,) = db.execute("PRAGMA page_count").fetchone()
        db.execute(f"PRAGMA max_page_count = {pages}")
        # Three inline clips with long prompts: a row larger than a page, so the ledger must grow.
        clips = [{"generate": {"prompt": f"shot {i} " + "a paper boat at sunrise " * 60, "provider": "preview",
                               "duration_s": 1}} for i in range(3)]
        text = _text(await client.call_tool("compose_timeline", {"request": {"timeline": {"clips": clips}}}))
    assert "[disk_full]" in text and "REELFORGE_HOME" in text and "OperationalError" not in text, text


async def test_a_job_that_hits_a_full_disk_says_so(tmp_path: Path) -> None:
    """A job whose write hits the kernel's ENOSPC (/dev/full) ends failed with disk_full and the fix,
    not "Internal error (OSError)". The runner and ledger are real; the handler writes for real."""
    import anyio

    from reelforge.jobs.job import Job, JobStatus
    from reelforge.jobs.runner import JobContext, Runner
    from reelforge.jobs.store import JobStore

    store = JobStore(tmp_path / "l.db")

    async def handler(ctx: JobContext) -> None:
        ctx.update(status=JobStatus.RUNNING)
        with open("/dev/full", "wb", buffering=0) as out:  # what a full disk answers to a write
            out.write(b"frame")

    runner = Runner(store, {"generate": handler})
    job = store.insert(Job(kind="generate", request={}))
    async with anyio.create_task_group() as tg:
        await tg.start(runner.serve)
        runner.start(job.id)
        with anyio.fail_after(10):
            while not store.require(job.id).status.terminal:
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    ended = store.require(job.id)
    store.close()
    assert ended.status is JobStatus.FAILED and ended.error_code == "disk_full", (ended.error_code, ended.error_message)
    assert "No space left" in ended.error_message and "REELFORGE_HOME" in ended.error_message


async def test_a_bad_setting_names_the_variable(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp import Client

    from reelforge.server import build_server

    monkeypatch.setenv("REELFORGE_HOME", str(settings.home))
    monkeypatch.setenv("REELFORGE_WAIT_SECONDS", "-5")
    async with Client(build_server(), raise_exceptions=True) as client:  # settings read from the environment
        text = _text(await client.call_tool("get_job", {"job_id": "job_x"}))
    assert "REELFORGE_WAIT_SECONDS: must be ≥ 0 (got '-5')" in text and "pydantic" not in text, text


def test_a_bad_setting_is_one_cli_error_line(settings, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from reelforge.cli import main

    monkeypatch.setenv("REELFORGE_HOME", str(settings.home))
    monkeypatch.setenv("REELFORGE_CONFIRM_ABOVE_USD", "lots")
    with pytest.raises(SystemExit) as done:
        main(["jobs"])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.startswith("error: REELFORGE_CONFIRM_ABOVE_USD:") and err.count("\n") == 1, err


@pytest.mark.slow
async def test_an_otio_clip_with_a_bad_value_names_it_without_pydantic(client, tmp_path: Path) -> None:
    """A timeline file (our own sidecar, edited by hand) whose clip volume is out of range."""
    import json

    from media_utils import make_clip

    clip = make_clip(tmp_path / "c.mp4", seconds=1)
    done = await client.call_tool("compose_timeline", {"request": {"timeline": {"clips": [{"path": str(clip)}]},
                                                                   "wait_seconds": 120}})
    assert not done.is_error and done.structured_content["status"] == "succeeded", done.content[0].text
    sidecar = json.loads(Path(done.structured_content["output"]["otio_path"]).read_text())
    text = json.dumps(sidecar).replace('"volume": 1.0', '"volume": 9.0')
    assert '"volume": 9.0' in text
    edited = tmp_path / "edited.otio"
    edited.write_text(text)
    refused = _text(await client.call_tool("compose_timeline", {"request": {"timeline": {"otio_path": str(edited)}}}))
    assert "volume: must be ≤ 4 (got 9" in refused and "pydantic" not in refused, refused


async def test_a_key_pasted_into_a_field_is_not_echoed(client) -> None:
    text = _text(await client.call_tool("generate_video", {"request": {"prompt": "x", "fps": "Bearer key_SECRET12345"}}))
    assert "request.fps" in text and "SECRET12345" not in text, text
