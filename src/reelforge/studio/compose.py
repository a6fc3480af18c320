"""compose_timeline: plan the clips (job outputs, files, inline generations), then render.

Inline generations are planned and quoted when the request arrives (the whole timeline's cost is
checked against the budget before anything starts); the handler creates them as child jobs,
checkpointed so a restart waits for the same children.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typing import TYPE_CHECKING

from reelforge.errors import InvalidRequest
from reelforge.jobs.job import Job, JobStatus
from reelforge.jobs.runner import JobContext
from reelforge.security import AUDIO_TYPES, VIDEO_TYPES, check_local_path
from reelforge.studio.artifacts import finalize
from reelforge.studio.clip_sources import resolve_clip
from reelforge.studio.planning import plan_inline
from reelforge.studio.prepared import Prepared
from reelforge.studio.steps import own_the_spend, run_step, sum_cost
from reelforge.studio.tool_schemas import ComposeRequest, VideoSource
from reelforge.timeline.spec import TimelineSpec

if TYPE_CHECKING:
    from reelforge.studio.core import Studio

#: Font names the timeline engine ships; anything else is a path to a font file.
BUNDLED_FONTS = ("sans", "sans-bold")


def _check_side_files(studio: Studio, spec: TimelineSpec) -> dict[str, Any]:
    """Vet the audio bed, subtitles and OTIO paths against the allowed roots."""
    updates: dict[str, Any] = {}
    if spec.audio_bed is not None:
        bed = check_local_path(spec.audio_bed.path, studio.settings, param="timeline.audio_bed.path")
        if bed.suffix.lower() not in {**AUDIO_TYPES, **VIDEO_TYPES}:
            raise InvalidRequest(f"timeline.audio_bed.path: '{bed.name}' is not an audio file.", param="timeline.audio_bed.path")
        updates["audio_bed"] = spec.audio_bed.model_copy(update={"path": str(bed)})
        if spec.audio_bed.cut_to is not None:  # a bed with no steady beat is refused now, before inline clips are paid
            from reelforge.timeline.beats import detect_beats

            detect_beats(bed, spec.audio_bed.beats_per_bar, max_s=120.0)
    if spec.subtitles_path is not None:
        from reelforge.timeline.validate import SUBTITLE_SUFFIXES

        subs = check_local_path(spec.subtitles_path, studio.settings, param="timeline.subtitles_path")
        if subs.suffix.lower() not in SUBTITLE_SUFFIXES:  # found now, not once the job renders
            raise InvalidRequest(f"timeline.subtitles_path: '{subs.name}' is not a subtitle file; use one of "
                                 f"{', '.join(SUBTITLE_SUFFIXES)}.", param="timeline.subtitles_path")
        updates["subtitles_path"] = str(subs)
    titles = []
    for j, title in enumerate(spec.titles):
        if title.font not in BUNDLED_FONTS:  # a font file: the same rule as any other input
            font = check_local_path(title.font, studio.settings, param=f"timeline.titles[{j}].font")
            title = title.model_copy(update={"font": str(font)})
        titles.append(title)
    updates["titles"] = titles
    return updates


def _expand_otio(studio: Studio, spec: TimelineSpec) -> TimelineSpec:
    """An uploaded .otio file becomes an ordinary spec (clips, bed, subtitles, fonts from its metadata),
    so every path it names is vetted afterwards like any other input."""
    if spec.otio_path is None:
        return spec
    from reelforge.timeline.otio_model import load_otio_spec

    otio_file = check_local_path(spec.otio_path, studio.settings, param="timeline.otio_path")
    return load_otio_spec(spec.model_copy(update={"otio_path": str(otio_file)}))


def prepare(studio: Studio, req: ComposeRequest) -> Prepared:
    spec = _expand_otio(studio, req.timeline)
    spec = spec.model_copy(update=_check_side_files(studio, spec))
    clips: list[dict[str, Any]] = []
    parents: list[str] = []
    total = 0.0
    notes: list[str] = []
    for i, clip in enumerate(spec.clips or []):
        where = f"timeline.clips[{i}]"
        if clip.generate is not None:
            planned = plan_inline(studio, dict(clip.generate), where)
            total += planned.quote.usd
            notes += [f"clip {i}: {n}" for n in planned.notes]
            clips.append({"step": planned.to_state()})
        else:
            try:
                path, job = resolve_clip(studio, VideoSource(job_id=clip.job_id, path=clip.path))
            except InvalidRequest as exc:  # keep the class (and code): name the clip instead of "source"
                message = exc.message.replace("source.path: ", "").replace("source.job_id: ", "")
                field = f"{where}.{'job_id' if clip.job_id else 'path'}"
                raise type(exc)(f"{field}: {message}", param=field, hint=exc.hint) from exc
            clips.append({"path": str(path)})
            if job is not None:
                parents.append(job.id)
    if spec.titles:
        from reelforge.timeline.titles import title_notes

        notes += title_notes(spec.titles)  # characters no bundled font can draw are left out
    request = {"timeline": spec.model_dump(mode="json"), "clips": clips, "name": req.name}
    return Prepared(kind="compose", request=request, quote_usd=round(total, 4), what="This timeline's generated clips",
                    parents=parents, notes=notes, eta_s=30)


async def run(studio: Studio, ctx: JobContext) -> None:
    from reelforge.timeline.render import render_timeline

    job = ctx.job
    req = job.request
    spec = TimelineSpec.model_validate(req["timeline"])
    paths: list[str] = []
    children: list[Job] = []
    try:
        for i, clip in enumerate(req["clips"]):
            if "step" in clip:
                child = await run_step(studio, ctx, f"clip_{i}", clip["step"])
                children.append(child)
                paths.append(child.outputs["path"])
            else:
                paths.append(clip["path"])
        if spec.clips is not None:
            spec = spec.with_clip_paths(paths)
        ctx.update(status=JobStatus.RUNNING, stage="rendering the timeline")

        async def on_progress(fraction: float) -> None:
            await ctx.progress(fraction, "rendering the timeline")

        async with studio.media_limiter:
            result = await render_timeline(spec, studio.job_dir(job.id), cache_dir=studio.settings.cache_dir / "segments",
                                           progress=on_progress, name=req.get("name", "timeline"))
    except Exception as exc:  # clips already generated were paid for: the failed job says what it cost
        own_the_spend(studio, ctx, exc, None)
        raise
    extra = result.model_dump(mode="json")
    await finalize(ctx, Path(result.path), extra=extra, cost_usd=sum_cost(*children),
                   attach={"otio_path": result.otio_path})
