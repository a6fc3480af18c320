"""Jobs through two HTTP replicas and two workers on one PostgreSQL database (and two replicas that
drive their own jobs), against one server on the embedded default (SQLite ledger and engine files),
measured in the same run against the same Runway emulator.

Each configuration gets N paid-path jobs (create → poll → download → probe, poster, contact sheet,
receipt), submitted by concurrent MCP clients over streamable HTTP (spread over the replicas), and
awaited through `get_job`. Prints throughput, p50/p90 latency from submit to `succeeded`, the
emulator's create count (must equal N: no job paid twice), peak RSS per server process (VmHWM),
and the ratios replicas / single.

    python benchmarks/replicas.py [--jobs 500] [--concurrency 20]

PostgreSQL: `REELFORGE_TEST_DATABASE_URL` (a superuser URL; a fresh database is created), else a
throwaway cluster started with `.ci/start-postgres`. In the worker configuration the replicas run
only the `media` queue (`REELFORGE_QUEUES=media`), so every provider job waits on the `remote` queue
for one of the two `reelforge worker --queue remote` processes (polled every 0.2 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from http_server_utils import bearer_client, serve_http, start_worker  # noqa: E402
TOKEN = "5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b" * 2


def _pg_server(scratch: Path) -> tuple[str, Path | None]:
    url = os.environ.get("REELFORGE_TEST_DATABASE_URL", "").strip()
    if url:
        return url, None
    where = Path(tempfile.mkdtemp(prefix="reelforge-pg-bench-", dir="/tmp"))
    out = subprocess.run([str(ROOT / ".ci" / "start-postgres"), str(where)], capture_output=True, text=True,
                         timeout=300, check=True)
    return out.stdout.strip().splitlines()[-1].split("REELFORGE_TEST_DATABASE_URL=", 1)[1], where


def _fresh_database(server_url: str) -> str:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlsplit(server_url)._replace(path=f"/{name}").geturl()


def _env(home: Path, emu, extra: dict[str, str]) -> dict[str, str]:
    return {"REELFORGE_HOME": str(home), "REELFORGE_HTTP_TOKEN": TOKEN, "RUNWAYML_API_SECRET": emu.api_key,
            "RUNWAYML_BASE_URL": emu.url, "REELFORGE_POLL_MIN_INTERVAL_S": "0.05", "REELFORGE_POLL_MAX_INTERVAL_S": "0.2",
            "REELFORGE_CONFIRM_ABOVE_USD": "1000",
            "REELFORGE_QUEUE_POLL_S": "0.2", "REELFORGE_LOG_LEVEL": "WARNING", **extra}


def _serve(home: Path, emu, extra: dict[str, str]) -> tuple[str, subprocess.Popen]:
    return serve_http(_env(home, emu, extra), keep_stderr=False)


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _drive(urls: list[str], jobs: int, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(jobs):
        queue.put_nowait(i)

    async def client_loop(url: str) -> None:
        async with bearer_client(url, TOKEN) as client:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                began = time.perf_counter()
                made = await client.call_tool("generate_video", {"request": {
                    "prompt": f"benchmark shot {i}", "provider": "runway", "duration_s": 5, "wait_seconds": 0}})
                job = made.structured_content
                while job["status"] not in ("succeeded", "failed", "canceled", "unknown"):
                    job = (await client.call_tool("get_job", {"job_id": job["job_id"], "wait_seconds": 30})
                           ).structured_content
                if job["status"] != "succeeded":
                    raise SystemExit(f"job {job['job_id']} ended {job['status']}: {job.get('error')}")
                latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(client_loop(urls[i % len(urls)]) for i in range(concurrency)))
    return time.perf_counter() - began, latencies


def _run(name: str, urls: list[str], procs: list[subprocess.Popen], emu, jobs: int, concurrency: int) -> dict:
    before = emu.count("create")
    wall, lat = asyncio.run(_drive(urls, jobs, concurrency))
    lat.sort()
    row = {"name": name, "wall_s": wall, "jobs_per_s": jobs / wall, "p50_s": statistics.median(lat),
           "p90_s": lat[int(0.9 * (len(lat) - 1))], "creates": emu.count("create") - before,
           "rss_mb": [round(_peak_rss_mb(p.pid)) for p in procs]}
    print(f"{name:<28} {jobs} jobs in {wall:6.1f} s  {row['jobs_per_s']:5.2f} jobs/s  p50 {row['p50_s']:5.2f} s  "
          f"p90 {row['p90_s']:5.2f} s  creates {row['creates']}  peak RSS MB {row['rss_mb']}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    from emulators.runway import RunwayEmulator

    scratch = Path(tempfile.mkdtemp(prefix="reelforge-bench-"))
    server_url, cluster = _pg_server(scratch)
    procs: list[subprocess.Popen] = []
    try:
        with RunwayEmulator() as emu:
            single_url, single = _serve(scratch / "single", emu, {})
            procs.append(single)
            base = _run("single server, SQLite", [single_url], [single], emu, args.jobs, args.concurrency)
            single.terminate()
            pg = _fresh_database(server_url)
            replicas = [_serve(scratch / "shared", emu, {"REELFORGE_DATABASE_URL": pg}) for _ in range(2)]
            procs += [p for _, p in replicas]
            multi = _run("two replicas, PostgreSQL", [u for u, _ in replicas], [p for _, p in replicas], emu,
                         args.jobs, args.concurrency)
            for _, p in replicas:
                p.terminate()
            pg = _fresh_database(server_url)
            team = {"REELFORGE_DATABASE_URL": pg, "REELFORGE_QUEUES": "media"}
            fronts = [_serve(scratch / "team", emu, team) for _ in range(2)]
            workers = [start_worker(_env(scratch / "team", emu, team), "remote", log=scratch / f"worker{i}.log")
                       for i in range(2)]
            procs += [p for _, p in fronts] + workers
            crew = _run("2 replicas + 2 workers, PG", [u for u, _ in fronts], [p for _, p in fronts] + workers,
                        emu, args.jobs, args.concurrency)
        for row in (base, multi, crew):
            if row["creates"] != args.jobs:
                raise SystemExit(f"{row['name']}: {row['creates']} creates for {args.jobs} jobs")
        print(f"ratio two replicas / single server: throughput {multi['jobs_per_s'] / base['jobs_per_s']:.2f}x, "
              f"p50 latency {multi['p50_s'] / base['p50_s']:.2f}x, p90 latency {multi['p90_s'] / base['p90_s']:.2f}x")
        print(f"ratio two replicas + two workers / single server: throughput "
              f"{crew['jobs_per_s'] / base['jobs_per_s']:.2f}x, p50 latency {crew['p50_s'] / base['p50_s']:.2f}x, "
              f"p90 latency {crew['p90_s'] / base['p90_s']:.2f}x")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        if cluster is not None:
            subprocess.run([str(ROOT / ".ci" / "start-postgres"), "--stop", str(cluster)], capture_output=True)


if __name__ == "__main__":
    main()
