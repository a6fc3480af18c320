"""Render a composed timeline: inspect, validate, model in OTIO, plan, encode, join, export.

`render_timeline` is the engine behind the `compose_timeline` tool. Every ffmpeg call goes
through `run_ffmpeg` (atomic output, process-group kill on cancel), so cancelling the task stops
ffmpeg at once and leaves no partial output; finished segments stay in the cache and make a
retry cheap.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tempfile
from dataclasses import dataclass, field, replace
from collections.abc import Awaitable, Callable
from functools import cached_property, partial
from pathlib import Path

import anyio

from reelforge.errors import InvalidRequest, MediaError
from reelforge.media.ffmpeg import run_ffmpeg
from reelforge.timeline.audio import timeline_audio_args
from reelforge.timeline.cache import PieceCache, piece_key
from reelforge.timeline.edit import Edit
from reelforge.timeline.filters import concat_list
from reelforge.timeline.loudness import measure
from reelforge.timeline.master import is_silent, master_mix
from reelforge.timeline.music import cut_to_music
from reelforge.timeline.otio_model import build_otio, edit_from_otio, load_otio_spec, write_otio
from reelforge.timeline.planner import Plan, VideoSegment, make_plan
from reelforge.timeline.presets import OutputFormat, output_format
from reelforge.timeline.progress import ProgressFn, ProgressTracker
from reelforge.timeline.segments import body_with_tail_args, from_tail, gif_args, join_args, segment_args, webm_args
from reelforge.timeline.sources import AudioSource, SourceMedia, inspect_audio, inspect_source
from reelforge.timeline.spec import ComposeResult, TimelineSpec
from reelforge.timeline.titles import (
    TitleOverlay,
    drawtext_filters,
    install_subtitle_fonts,
    install_subtitles,
    prepare_title,
    subtitles_filter,
)
from reelforge.timeline.validate import validate

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
#: Relative cost of steps for progress: an export re-encodes the whole output.
_AUDIO_WEIGHT, _JOIN_WEIGHT, _EXPORT_WEIGHT = 0.08, 0.03, 0.6
#: Segment cache size kept after each render (least recently used pieces go first).
DEFAULT_CACHE_MAX_BYTES = 5 * 2**30


async def _run_all(calls: list[Callable[[], Awaitable[None]]]) -> None:
    """Run `calls` concurrently; if one fails, raise that error itself.

    anyio task groups raise an ExceptionGroup, but callers of `render_timeline` (and the MCP
    layer's error mapping) expect the `InvalidRequest` / `MediaError` that actually happened.
    """
    try:
        async with anyio.create_task_group() as tg:
            for call in calls:
                tg.start_soon(call)
    except BaseExceptionGroup as group:
        leaves = _leaves(group)
        failure = next((e for e in leaves if not isinstance(e, anyio.get_cancelled_exc_class())), None)
        if failure is None:
            raise  # only cancellations: let them propagate as they are
        raise failure from None


def _leaves(group: BaseExceptionGroup) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out += _leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return out


def _timeout_s(frames: int) -> float:
    # Two minutes plus one second per frame: 4K60 veryfast still encodes ~25 fps on two cores,
    # so only a hung ffmpeg gets near this.
    return 120.0 + frames


@dataclass
class _Job:
    """Everything one render needs, gathered before the first ffmpeg call."""

    spec: TimelineSpec
    fmt: OutputFormat
    sources: list[SourceMedia]
    bed: AudioSource | None
    edit: Edit
    plan: Plan
    cache: PieceCache
    cache_dir: Path
    tracker: ProgressTracker
    parallel: int
    rendered: int = 0
    cached: int = 0
    audio_report: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @cached_property
    def fingerprints(self) -> dict[str, str]:
        prints = {str(s.path): s.fingerprint for s in self.sources}
        if self.bed is not None:
            prints[str(self.bed.path)] = self.bed.fingerprint
        return prints


def _inspect_clip(i: int, path: str | None) -> SourceMedia:
    if path is None:
        raise InvalidRequest(
            f"clips[{i}] has no local path yet; resolve job_id/generate first.", param=f"clips[{i}].path"
        )
    try:
        return inspect_source(path)
    except InvalidRequest as exc:
        raise InvalidRequest(f"clips[{i}]: {exc.message}", param=f"clips[{i}].path", hint=exc.hint) from None
    except MediaError as exc:
        raise MediaError(f"clips[{i}]: {exc.message}", hint=exc.hint) from None


async def _inspect_all(spec: TimelineSpec) -> tuple[list[SourceMedia], AudioSource | None]:
    """Probe every input, two at a time (PyAV releases the GIL while it reads).

    Two worker threads halve the wall time on two cores; more threads mostly add malloc arenas
    (about 2-3 MB of resident memory each) to the process.
    """
    clips = spec.clips or []
    sources: list[SourceMedia | None] = [None] * len(clips)
    limiter = anyio.CapacityLimiter(2)

    async def one(i: int) -> None:
        sources[i] = await anyio.to_thread.run_sync(_inspect_clip, i, clips[i].path, limiter=limiter)

    await _run_all([partial(one, i) for i in range(len(clips))])
    bed = None
    if spec.audio_bed is not None:
        bed = await anyio.to_thread.run_sync(inspect_audio, spec.audio_bed.path, limiter=limiter)
    return [s for s in sources if s is not None], bed


def _step_weights(plan: Plan, exports: int) -> float:
    video = sum(s.frames * len(s.inputs) for s in plan.segments) or plan.total_frames * 0.05
    return video + plan.total_frames * (_AUDIO_WEIGHT + _JOIN_WEIGHT + _EXPORT_WEIGHT * exports)


async def render_timeline(
    spec: TimelineSpec,
    out_dir: Path,
    *,
    cache_dir: Path,
    progress: ProgressFn | None = None,
    name: str = "timeline",
    parallel: int | None = None,
    cache_max_bytes: int = DEFAULT_CACHE_MAX_BYTES,
) -> ComposeResult:
    """Render `spec` to `out_dir/<name>.mp4` (+ `<name>.otio`, exports); see the module docstring.

    Every clip must have a local `path` (the core resolves job ids and generations first), or
    the spec must name an `otio_path`. `parallel` is how many segments encode at once (default:
    half the cores, at least one); the piece cache is pruned to `cache_max_bytes` afterwards.
    Raises `InvalidRequest` naming the clip and field for any timeline error, before anything
    is rendered; `MediaError` when ffmpeg fails.
    """
    if not _NAME.match(name):
        raise InvalidRequest(f"name {name!r} must be letters, digits, '.', '_' or '-' (max 100).", param="name")
    if spec.otio_path is not None:
        spec = await anyio.to_thread.run_sync(load_otio_spec, spec)
    fmt = output_format(spec.preset, spec.orientation, spec.fps)
    sources, bed = await _inspect_all(spec)
    total = validate(spec, sources, fmt, bed)
    spec, music = await anyio.to_thread.run_sync(cut_to_music, spec, sources, bed, fmt.fps, total)
    if music is not None:  # cuts moved onto the beat: clips are shorter, so count again
        total = validate(spec, sources, fmt, bed)
    timeline = build_otio(spec, [s.available_frames(fmt.fps) for s in sources], fmt.fps, name=name)
    edit = edit_from_otio(timeline, fmt.fps)
    if edit.total_frames != total:  # the OTIO round trip must not change a single frame
        raise MediaError(f"internal: OTIO model has {edit.total_frames} frames, validation counted {total}.")
    plan = make_plan(edit, spec, sources, fmt)
    out_dir.mkdir(parents=True, exist_ok=True)
    job = _Job(
        spec, fmt, sources, bed, edit, plan, PieceCache(cache_dir / "pieces"), cache_dir,
        ProgressTracker(progress, _step_weights(plan, len(spec.exports))),
        parallel or _default_parallel(),
    )
    logger.info("timeline %s: %d clips, %d frames, plan %s", name, len(edit.clips), total, plan.kind)
    out = await _render_plan(job, out_dir / f"{name}.mp4")
    exports = await _exports(job, out, out_dir, name)
    otio_path = await anyio.to_thread.run_sync(write_otio, timeline, out_dir / f"{name}.otio")
    await anyio.to_thread.run_sync(job.cache.prune, cache_max_bytes)
    await job.tracker.finish()
    return ComposeResult(
        path=str(out), otio_path=str(otio_path), exports=exports, expected_frames=total, plan=job.plan.kind,
        segments_rendered=job.rendered, segments_cached=job.cached, duration_s=total / fmt.fps,
        width=fmt.width, height=fmt.height, fps=fmt.fps, notes=(music.notes if music else []) + job.notes,
        tempo_bpm=music.grid.tempo_bpm if music else None, beat_cuts=music.cuts if music else [], **job.audio_report,
    )


def _default_parallel() -> int:
    # x264 already uses every core; a second job mainly overlaps decode and start-up costs.
    return max(1, min(4, (os.cpu_count() or 1) // 2))


async def _render_plan(job: _Job, out: Path) -> Path:
    audio = None
    if job.plan.kind != "copy":
        audio = await _timeline_audio(job)
    if job.plan.kind == "segments":
        video_parts = await _render_segments(job)
    else:
        video_parts = [s.path for s in job.sources]
    await _join(job, video_parts, audio, out)
    if job.plan.kind == "copy" and not await _copied_audio_ok(job, out):
        # The clips' own sound peaks over the ceiling (or a loudness target was set): rebuild
        # it through the limiter, keeping the stream-copied picture.
        job.plan = replace(job.plan, kind="audio_only")
        await _join(job, video_parts, await _timeline_audio(job), out)
    return out


async def _join(job: _Job, video_parts: list[Path], audio: Path | None, out: Path) -> None:
    frames = job.plan.total_frames
    with tempfile.TemporaryDirectory(dir=job.cache_dir, prefix="join-") as tmp:
        list_file = Path(tmp) / "parts.txt"
        list_file.write_text(concat_list([str(p) for p in video_parts]))
        await run_ffmpeg(
            join_args(str(list_file), str(audio) if audio else None), out,
            duration_s=frames / job.fmt.fps, progress=job.tracker.step(frames * _JOIN_WEIGHT),
            timeout_s=_timeout_s(frames),
        )


async def _timeline_audio(job: _Job) -> Path:
    """The mixed, limited (and, on request, loudness-corrected) sound of the whole timeline."""
    has_audio = [s.has_audio for s in job.sources]
    bed_path = job.bed.path if job.bed else None
    frames = job.plan.total_frames
    step = job.tracker.step(frames * _AUDIO_WEIGHT)
    ceiling = job.spec.audio_ceiling_dbtp

    async def render(gain_db: float, margin_db: float) -> Path:
        args = timeline_audio_args(
            job.edit, has_audio, job.spec.audio_bed, bed_path,
            ceiling_dbtp=ceiling, gain_db=gain_db, limiter_margin_db=margin_db,
        )

        async def make(path: Path) -> None:
            await run_ffmpeg(args, path, duration_s=frames / job.fmt.fps, progress=step, timeout_s=_timeout_s(frames))

        path, _ = await job.cache.get_or_make(piece_key(args, job.fingerprints), ".m4a", make)
        await step(1.0)
        return path

    mastered = await master_mix(render, ceiling, job.spec.loudness_lufs)
    job.audio_report = {
        "audio_loudness_lufs": None if is_silent(mastered.level) else mastered.level.integrated_lufs,
        "audio_true_peak_dbtp": _finite(mastered.level.true_peak_dbtp),
        "audio_true_peak_ceiling_dbtp": ceiling,
        "audio_gain_db": mastered.gain_db,
    }
    job.notes += mastered.notes
    return mastered.path


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


async def _copied_audio_ok(job: _Job, out: Path) -> bool:
    """Measure a stream-copied output's sound; False when it breaks the ceiling or misses the target."""
    level = await measure(out)
    job.audio_report = {
        "audio_loudness_lufs": None if is_silent(level) else level.integrated_lufs,
        "audio_true_peak_dbtp": _finite(level.true_peak_dbtp),
    }
    return level.true_peak_dbtp <= job.spec.audio_ceiling_dbtp and job.spec.loudness_lufs is None


def _overlays(job: _Job) -> tuple[list[TitleOverlay], str | None]:
    duration = job.plan.total_frames / job.fmt.fps
    titles = [prepare_title(t, job.fmt, job.cache_dir, duration, j) for j, t in enumerate(job.spec.titles)]
    subs = None
    if job.spec.subtitles_path:
        sub_file = install_subtitles(Path(job.spec.subtitles_path), job.cache_dir)
        subs = subtitles_filter(sub_file, install_subtitle_fonts(job.cache_dir), job.fmt)
    return titles, subs


def _segment_overlays(seg: VideoSegment, fps: int, titles: list[TitleOverlay], subs: str | None) -> list[str]:
    """The overlay filters that touch this segment (only those: unchanged segments stay cached)."""
    start, end = seg.start_frame / fps, (seg.start_frame + seg.frames) / fps
    filters = [f for t in titles if t.start_s < end and t.end_s > start for f in drawtext_filters(t)]
    return filters + ([subs] if subs else [])


@dataclass
class _Piece:
    """One video segment of this render: its cache key, and the tail hand-off it takes part in."""

    seg: VideoSegment
    args: list[str]
    key: str
    #: Set on a body: write the outgoing transition's first clip frames here while encoding.
    tail_out: Path | None = None
    tail_frames: int = 0
    #: Set on a transition: the body that hands it its first clip's frames, and when that is done.
    tail_from: int | None = None
    done: anyio.Event = field(default_factory=anyio.Event)


def _pieces(job: _Job, titles: list[TitleOverlay], subs: str | None, tmp: Path) -> list[_Piece]:
    pieces = []
    for seg in job.plan.segments:
        args = segment_args(seg, job.fmt, job.spec.fit, _segment_overlays(seg, job.fmt.fps, titles, subs))
        pieces.append(_Piece(seg, args, piece_key(args, job.fingerprints)))
    for k in range(len(pieces) - 1):
        body, nxt = pieces[k], pieces[k + 1]
        hand_off = (
            body.seg.kind == "body" and nxt.seg.kind == "transition"
            and not job.cache.has(body.key, ".mp4") and not job.cache.has(nxt.key, ".mp4")
        )
        if hand_off:
            body.tail_out, body.tail_frames, nxt.tail_from = tmp / f"tail-{k}.nut", nxt.seg.frames, k
    return pieces


def _render_args(
    job: _Job, piece: _Piece, pieces: list[_Piece], titles: list[TitleOverlay], subs: str | None
) -> list[str]:
    """The argv that renders `piece` now (same output as `piece.args`, maybe cheaper to make)."""
    seg = piece.seg
    overlays = _segment_overlays(seg, job.fmt.fps, titles, subs)
    if piece.tail_out is not None:
        return body_with_tail_args(seg, job.fmt, job.spec.fit, overlays, piece.tail_frames, str(piece.tail_out))
    if piece.tail_from is not None:
        tail = pieces[piece.tail_from].tail_out
        if tail is not None and tail.is_file() and tail.stat().st_size > 0:
            return segment_args(from_tail(seg, tail), job.fmt, job.spec.fit, overlays)
    return piece.args


async def _render_segments(job: _Job) -> list[Path]:
    titles, subs = await anyio.to_thread.run_sync(_overlays, job)
    parts: list[Path | None] = [None] * len(job.plan.segments)
    limiter = anyio.CapacityLimiter(job.parallel)
    with tempfile.TemporaryDirectory(dir=job.cache_dir, prefix="tails-") as tmp:
        pieces = _pieces(job, titles, subs, Path(tmp))

        async def one(k: int, piece: _Piece) -> None:
            step = job.tracker.step(piece.seg.frames * len(piece.seg.inputs))
            if piece.tail_from is not None:
                await pieces[piece.tail_from].done.wait()

            async def make(path: Path) -> None:
                async with limiter:
                    args = _render_args(job, piece, pieces, titles, subs)
                    frames = piece.seg.frames
                    await run_ffmpeg(
                        args, path, duration_s=frames / job.fmt.fps, progress=step, timeout_s=_timeout_s(frames)
                    )

            try:
                parts[k], cached = await job.cache.get_or_make(piece.key, ".mp4", make)
            finally:
                piece.done.set()  # a waiting transition falls back to the source if no tail came
            if cached:
                job.cached += 1
                await step(1.0)
            else:
                job.rendered += 1

        await _run_all([partial(one, k, piece) for k, piece in enumerate(pieces)])
    return [p for p in parts if p is not None]


async def _exports(job: _Job, mp4: Path, out_dir: Path, name: str) -> dict[str, str]:
    exports: dict[str, str] = {}
    frames = job.plan.total_frames
    for fmt_name in dict.fromkeys(job.spec.exports):
        args = webm_args(str(mp4), job.fmt) if fmt_name == "webm" else gif_args(str(mp4), job.fmt)
        target = out_dir / f"{name}.{fmt_name}"
        await run_ffmpeg(
            args, target, duration_s=frames / job.fmt.fps, progress=job.tracker.step(frames * _EXPORT_WEIGHT),
            timeout_s=_timeout_s(frames) * 3,
        )
        exports[fmt_name] = str(target)
    return exports
