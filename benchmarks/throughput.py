"""Throughput: N paid-path jobs against a provider whose tasks take a fixed time, measured against
the latency floor (that fixed time: with every job in flight at once, the ideal wall time).

For each N the script starts one HTTP server on the embedded default, points it at the Runway
emulator (every task takes `--task-seconds`, outputs are 5 s H.264 clips of `--size`, 1280x720 by default), submits the N jobs
either as separate `generate_video` calls (from `--sessions` concurrent MCP sessions) or as one
`generate_batch` call, and waits until every job has ended. It prints:

- wall time and wall / floor (the floor is the task time);
- the server's peak RSS (VmHWM; one warm-up job runs first, uncounted: lazy imports and the engine's
  start happen once per process) and its CPU seconds per job (user + system from /proc), split into
  media post-processing (probe, poster, contact sheet, hash: measured in this process on the same
  clip, `--media-samples` times) and orchestration (the rest: tool calls, ledger, engine, polls,
  download), with the event-loop thread's own CPU shown apart (the rest runs on worker threads);
- HTTP requests per job at the provider (create + status reads + download) and lost jobs (any job
  that did not succeed, or a create count different from N).

    python benchmarks/throughput.py [--jobs 50,200,500] [--task-seconds 5] [--mode calls|batch|both]

The baseline each ratio names is measured in the same run: the floor for wall time, and the media
cost for the CPU split.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from http_server_utils import bearer_client, serve_http  # noqa: E402

TOKEN = "7d6c5b4a39281706f5e4d3c2b1a09f8e" * 2
TERMINAL = ("succeeded", "failed", "canceled", "unknown")
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def _loop_cpu_s(pid: int) -> float:
    """CPU seconds of the server's main thread, which runs the event loop (tool calls, the engine's
    async side, polls, downloads); media post-processing and ledger writes run on worker threads."""
    return _task_cpu_s(pid, pid)


def _task_cpu_s(pid: int, tid: int) -> float:
    fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def media_cpu_per_job(samples: int, size: tuple[int, int]) -> float:
    """CPU seconds of one job's post-processing (what `finalize` does to a downloaded clip)."""
    from emulators.base import sample_mp4

    from reelforge.studio.artifacts import _describe

    work = Path(tempfile.mkdtemp(prefix="reelforge-bench-media-"))
    clip = work / "video.mp4"
    clip.write_bytes(sample_mp4(5.0, *size))
    _describe(clip, work)  # warm: imports and the first decode's setup are not per job
    began = time.process_time()
    for _ in range(samples):
        _describe(clip, work)
    return (time.process_time() - began) / samples


async def _wait_all(client, ids: list[str]) -> list[dict]:
    ended = []
    for job_id in ids:
        while True:
            job = (await client.call_tool("get_job", {"job_id": job_id, "wait_seconds": 60})).structured_content
            if job["status"] in TERMINAL:
                ended.append(job)
                break
    return ended


async def _as_calls(url: str, jobs: int, sessions: int, tag: str = "shot") -> list[dict]:
    pending = list(range(jobs))
    ended: list[dict] = []

    async def session() -> None:
        async with bearer_client(url, TOKEN) as client:
            mine = []
            while pending:
                i = pending.pop()
                made = await client.call_tool("generate_video", {"request": {
                    "prompt": f"throughput {tag} {i}", "provider": "runway", "model": "gen4.5", "duration_s": 5,
                    "wait_seconds": 0}})
                mine.append(made.structured_content["job_id"])
            ended.extend(await _wait_all(client, mine))

    await asyncio.gather(*(session() for _ in range(sessions)))
    return ended


async def _as_batch(url: str, jobs: int) -> list[dict]:
    items = [{"prompt": f"throughput shot {i}", "provider": "runway", "model": "gen4.5", "duration_s": 5}
             for i in range(jobs)]
    async with bearer_client(url, TOKEN) as client:
        made = await client.call_tool("generate_batch", {"request": {"items": items, "concurrency": jobs,
                                                                    "wait_seconds": 0}})
        if made.is_error:
            raise SystemExit(made.content[0].text)
        [batch] = await _wait_all(client, [made.structured_content["job_id"]])
        rows = batch.get("batch", {}).get("items") or []
        return [{"status": row.get("status")} for row in rows] or [batch]


def run_one(jobs: int, mode: str, task_s: float, sessions: int, media_cpu: float, size: tuple[int, int]) -> dict:
    from emulators.runway import RunwayEmulator

    with RunwayEmulator() as emu:
        emu.task_seconds, emu.output_size = task_s, size
        home = Path(tempfile.mkdtemp(prefix="reelforge-bench-throughput-"))
        env = {"REELFORGE_HOME": str(home), "REELFORGE_HTTP_TOKEN": TOKEN, "RUNWAYML_API_SECRET": emu.api_key,
               "RUNWAYML_BASE_URL": emu.url, "REELFORGE_CONFIRM_ABOVE_USD": "100000", "REELFORGE_LOG_LEVEL": "WARNING",
               **({"MALLOC_ARENA_MAX": os.environ["MALLOC_ARENA_MAX"]} if "MALLOC_ARENA_MAX" in os.environ else {})}
        url, server = serve_http(env, keep_stderr=False)
        try:
            # One job first, not counted: the lazy imports and the engine's start are once per process.
            asyncio.run(_as_calls(url, 1, 1, tag="warm-up"))
            requests0, creates0 = len(emu.requests), emu.count("create")
            cpu0, loop0 = _cpu_s(server.pid), _loop_cpu_s(server.pid)
            began = time.perf_counter()
            ended = asyncio.run(_as_calls(url, jobs, sessions) if mode == "calls" else _as_batch(url, jobs))
            wall = time.perf_counter() - began
            cpu, loop = _cpu_s(server.pid) - cpu0, _loop_cpu_s(server.pid) - loop0
            rss = _peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
        ok = sum(1 for j in ended if j["status"] == "succeeded")
        row = {"jobs": jobs, "mode": mode, "wall_s": wall, "ratio": wall / task_s, "rss_mb": rss,
               "cpu_ms_per_job": 1000 * cpu / jobs, "media_ms_per_job": 1000 * media_cpu,
               "orchestration_ms_per_job": 1000 * (cpu / jobs - media_cpu), "loop_ms_per_job": 1000 * loop / jobs,
               "requests_per_job": (len(emu.requests) - requests0) / jobs,
               "lost": jobs - ok + abs(emu.count("create") - creates0 - jobs)}
    print(f"N={jobs:<4} {mode:<6} wall {wall:6.1f} s = {row['ratio']:5.2f}x the {task_s:g} s floor  "
          f"peak RSS {rss:5.0f} MB  CPU/job {row['cpu_ms_per_job']:6.1f} ms "
          f"(media {row['media_ms_per_job']:5.1f}, orchestration {row['orchestration_ms_per_job']:6.1f}; "
          f"event-loop thread {row['loop_ms_per_job']:5.1f})  "
          f"HTTP/job {row['requests_per_job']:5.2f}  lost {row['lost']}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", default="50,200,500")
    parser.add_argument("--task-seconds", type=float, default=5.0)
    parser.add_argument("--mode", choices=["calls", "batch", "both"], default="both")
    parser.add_argument("--sessions", type=int, default=25, help="Concurrent MCP sessions for separate calls.")
    parser.add_argument("--media-samples", type=int, default=5)
    parser.add_argument("--size", default="1280x720", help="The provider's output frame size (160x90 isolates orchestration).")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    media = media_cpu_per_job(args.media_samples, size)
    print(f"baseline: media post-processing of one {args.size} 5 s clip = {1000 * media:.1f} ms CPU", flush=True)
    modes = ["calls", "batch"] if args.mode == "both" else [args.mode]
    rows = [run_one(int(n), mode, args.task_seconds, args.sessions, media, size)
            for n in args.jobs.split(",") for mode in modes]
    if any(r["lost"] for r in rows):
        raise SystemExit("jobs were lost")


if __name__ == "__main__":
    main()
