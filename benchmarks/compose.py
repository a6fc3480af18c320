"""Benchmarks of the timeline engine, each a ratio against a baseline measured in the same run.

    python benchmarks/compose.py                 # all three, 2 runs each
    python benchmarks/compose.py --runs 1 --only moviepy

1. 10 x 5 s 720p30 clips with 0.5 s crossfades: reelforge (standard preset) against MoviePy 2.x
   rendering the same timeline with the same encoder settings (libx264 veryfast, 3000k, AAC).
2. Peak memory of a 20-clip crossfade timeline (the whole process tree: Python + every ffmpeg).
3. A cuts-only timeline of clips that already match the output: reelforge (which picks the stream
   copy plan) against a raw `ffmpeg -f concat -c copy` of the same files.

Each measurement runs in a fresh worker process; a sampler polls the RSS of that process and
all its children every 20 ms, so concurrent ffmpeg jobs are summed. Wall times are taken inside
the worker around the render call: interpreter start-up, imports and the one-time start of the
event-loop backend are excluded (a running server has paid them), as MoviePy's imports are.
MoviePy is only needed here: `pip install moviepy` (the `bench` extra), never at runtime.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

HERE = Path(__file__).resolve()
FPS, SIZE, SECONDS, FADE = 30, (1280, 720), 5.0, 0.5


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_sources(folder: Path, n: int) -> list[Path]:
    """n distinct 5 s 720p30 H.264/AAC clips (x264 default GOP), made once and reused."""
    folder.mkdir(parents=True, exist_ok=True)
    patterns = ["testsrc2", "smptehdbars", "rgbtestsrc", "testsrc", "pal100bars", "yuvtestsrc"]
    paths = []
    for i in range(n):
        path = folder / f"src{i:02d}.mp4"
        if not path.exists():
            video = f"{patterns[i % len(patterns)]}=size={SIZE[0]}x{SIZE[1]}:rate={FPS},hue=h={i * 37}"
            audio = f"sine=frequency={220 + 40 * i}:sample_rate=48000:duration={SECONDS}"
            subprocess.run(
                [ffmpeg(), "-v", "error", "-y", "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", audio,
                 "-t", str(SECONDS), "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                 "-c:a", "aac", "-ac", "2", str(path)],
                check=True,
            )
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------- workers


def worker_reelforge(clips: list[str], out: Path, cache: Path, fade: float) -> dict:
    import anyio

    from reelforge.timeline import ClipSpec, TimelineSpec, TransitionSpec, render_timeline

    t = TransitionSpec(kind="crossfade", duration_s=fade) if fade > 0 else None
    spec = TimelineSpec(
        clips=[ClipSpec(path=c, transition=t if i < len(clips) - 1 else None) for i, c in enumerate(clips)],
        preset="standard",
    )
    # What a running server has already done once: start anyio's event-loop backend and locate
    # the ffmpeg binary (together ~40 ms on first use). The render itself is what is timed.
    from reelforge.media.ffmpeg import ffmpeg_exe

    anyio.run(anyio.sleep, 0)
    ffmpeg_exe()
    start = time.perf_counter()
    result = anyio.run(lambda: render_timeline(spec, out.parent, cache_dir=cache, name=out.stem))
    return {"seconds": time.perf_counter() - start, "plan": result.plan, "frames": result.expected_frames}


def worker_moviepy(clips: list[str], out: Path, fade: float) -> dict:
    from moviepy import VideoFileClip, afx, concatenate_videoclips, vfx

    start = time.perf_counter()
    loaded = [VideoFileClip(c) for c in clips]
    faded = [loaded[0].with_effects([afx.AudioFadeOut(fade)])]
    for clip in loaded[1:]:
        faded.append(clip.with_effects([vfx.CrossFadeIn(fade), afx.AudioFadeIn(fade), afx.AudioFadeOut(fade)]))
    final = concatenate_videoclips(faded, method="compose", padding=-fade)
    final.write_videofile(
        str(out), fps=FPS, codec="libx264", preset="veryfast", bitrate="3000k", audio_codec="aac",
        audio_bitrate="160k", logger=None,
    )
    for c in loaded:
        c.close()
    return {"seconds": time.perf_counter() - start}


def worker_concat_copy(clips: list[str], out: Path) -> dict:
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{c}'\n" for c in clips))
    start = time.perf_counter()
    subprocess.run(
        [ffmpeg(), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
         "-movflags", "+faststart", str(out)],
        check=True,
    )
    return {"seconds": time.perf_counter() - start}


def run_worker(args: argparse.Namespace) -> None:
    clips, out = args.clips, Path(args.out)
    if args.worker == "reelforge":
        result = worker_reelforge(clips, out, Path(args.cache), args.fade)
    elif args.worker == "moviepy":
        result = worker_moviepy(clips, out, args.fade)
    else:
        result = worker_concat_copy(clips, out)
    print(json.dumps(result))


# ------------------------------------------------------------------------------------ measuring


def measure(worker: str, clips: list[Path], out: Path, *, fade: float = FADE, cache: Path | None = None) -> dict:
    """Run one worker process; return its JSON result plus the tree's peak RSS in MB."""
    argv = [sys.executable, str(HERE), "--worker", worker, "--out", str(out), "--fade", str(fade),
            "--clips", *map(str, clips)]
    if cache is not None:
        argv += ["--cache", str(cache)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    peak = [0]

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                tree = [root, *root.children(recursive=True)]
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = proc.communicate()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{worker} worker failed (exit {proc.returncode})")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_mb"] = peak[0] / 2**20
    return result


def count_frames(path: Path) -> int:
    import av

    with av.open(str(path)) as c:
        return sum(1 for p in c.demux(c.streams.video[0]) if p.size)


def fresh(folder: Path) -> Path:
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def bench_moviepy(work: Path, sources: list[Path], runs: int) -> None:
    ours, theirs = [], []
    for r in range(runs):
        ours.append(measure("reelforge", sources, work / "out" / "ours.mp4", cache=fresh(work / f"cache{r}")))
        theirs.append(measure("moviepy", sources, work / "out" / "moviepy.mp4"))
    expected = round((len(sources) * SECONDS - (len(sources) - 1) * FADE) * FPS)
    o, m = statistics.median(x["seconds"] for x in ours), statistics.median(x["seconds"] for x in theirs)
    print(f"[1] 10 x 5 s 720p, 9 crossfades ({expected} frames expected)")
    print(f"    reelforge {o:6.2f} s  runs {[round(x['seconds'], 2) for x in ours]}  "
          f"frames {count_frames(work / 'out' / 'ours.mp4')}  peak {max(x['peak_mb'] for x in ours):.0f} MB")
    print(f"    moviepy   {m:6.2f} s  runs {[round(x['seconds'], 2) for x in theirs]}  "
          f"frames {count_frames(work / 'out' / 'moviepy.mp4')}  peak {max(x['peak_mb'] for x in theirs):.0f} MB")
    print(f"    ratio moviepy / reelforge = {m / o:.2f}x  (goal >= 4x)")


def bench_memory(work: Path, sources: list[Path], runs: int) -> None:
    twenty = (sources * 2)[:20]
    out = work / "out" / "twenty.mp4"
    res = [measure("reelforge", twenty, out, cache=fresh(work / f"cache20-{r}")) for r in range(runs)]
    peak = max(x["peak_mb"] for x in res)
    print(f"[2] 20 x 5 s 720p, 19 crossfades: peak RSS (Python + ffmpeg tree) {peak:.0f} MB  (goal <= 250 MB); "
          f"{statistics.median(x['seconds'] for x in res):.2f} s, frames {count_frames(work / 'out' / 'twenty.mp4')}"
          f" of {res[0]['frames']}")


def bench_cuts(work: Path, sources: list[Path], runs: int) -> None:
    # Inputs that already match the standard preset: render each source alone once.
    matching = []
    for i, src in enumerate(sources):
        out = work / "matching" / f"m{i:02d}.mp4"
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            measure("reelforge", [src], out, fade=0, cache=work / "cache-matching")
        matching.append(out)
    ours, raw = [], []
    for r in range(runs):
        raw.append(measure("concat", matching, work / "out" / "raw-concat.mp4"))
        ours.append(measure("reelforge", matching, work / "out" / "cuts.mp4", fade=0, cache=fresh(work / f"cachec{r}")))
    o, c = statistics.median(x["seconds"] for x in ours), statistics.median(x["seconds"] for x in raw)
    print(f"[3] cuts only, 10 matching clips: reelforge {o:.3f} s (plan {ours[0]['plan']}, frames "
          f"{count_frames(work / 'out' / 'cuts.mp4')}) vs ffmpeg concat copy {c:.3f} s")
    print(f"    ratio reelforge / concat copy = {o / c:.2f}x  (goal <= 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=os.environ.get("REELFORGE_BENCH_DIR", "/tmp/reelforge-bench"))
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--only", choices=["moviepy", "memory", "cuts"])
    parser.add_argument("--worker", choices=["reelforge", "moviepy", "concat"], help=argparse.SUPPRESS)
    parser.add_argument("--clips", nargs="*", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--cache", help=argparse.SUPPRESS)
    parser.add_argument("--fade", type=float, default=FADE, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args)
        return
    work = Path(args.work)
    (work / "out").mkdir(parents=True, exist_ok=True)
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, python {platform.python_version()}")
    sources = make_sources(work / "sources", 10)
    if args.only in (None, "moviepy"):
        bench_moviepy(work, sources, args.runs)
    if args.only in (None, "memory"):
        bench_memory(work, sources, args.runs)
    if args.only in (None, "cuts"):
        bench_cuts(work, sources, args.runs)


if __name__ == "__main__":
    main()
