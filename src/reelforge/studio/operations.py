"""Starting work: each tool request is prepared (checked and quoted, no side effects), then
launched (budget, confirmation, ledger row, runner).

The derived operations (extend, loop, compose) plan their generation steps up front, so the whole
cost is quoted and budget-checked before anything starts; the handlers create those step jobs
later from the stored plans. Preparing twice is harmless, which lets the server ask the user to
approve a quoted cost (elicitation) before the call goes ahead.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from pydantic import ValidationError

from reelforge.errors import InvalidRequest, validation_text
from reelforge.jobs.job import Job, JobKind
from reelforge.generation_spec import MediaRef
from reelforge.studio.core import Plan, Studio
from reelforge.studio.models import CallOptions, ExtendRequest, GenerateRequest, GenerationOptions, LoopRequest
from reelforge.studio.pricing import Quote


@dataclass
class Prepared:
    """A checked, quoted job that does not exist yet."""

    kind: JobKind
    request: dict[str, Any]
    quote_usd: float
    what: str
    quote_detail: dict[str, Any] | None = None
    provider: str | None = None
    model: str | None = None
    parents: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    eta_s: float | None = None


def from_plan(kind: JobKind, plan: Plan, what: str, request: dict[str, Any], *, parents: list[str] | None = None,
              extra_eta: float = 0.0) -> Prepared:
    return Prepared(kind=kind, request=request, quote_usd=plan.quote.usd, what=what,
                    quote_detail=plan.quote.model_dump(mode="json"), provider=plan.model.provider,
                    model=plan.model.id, parents=parents or [], notes=plan.notes,
                    eta_s=plan.eta_s + extra_eta)


def launch(studio: Studio, prepared: Prepared, call: CallOptions) -> Job:
    """Budget and confirmation, then the ledger row and the runner. A repeat re-attaches first, for free."""
    existing = studio.existing_for(prepared.kind, prepared.request, prepared.parents, call)
    if existing is not None:
        return existing
    studio.check_budget(prepared.quote_usd, call, prepared.what)
    return studio.create_job(prepared.kind, request=prepared.request, call=call, quote_usd=prepared.quote_usd,
                             quote_detail=prepared.quote_detail, provider=prepared.provider, model=prepared.model,
                             parents=prepared.parents, notes=prepared.notes, eta_s=prepared.eta_s)


async def launch_prepared(studio: Studio, prepare: Any, req: Any) -> Job:
    """Prepare off the event loop (URL vetting resolves DNS, files are probed), then launch on it."""
    prepared = await anyio.to_thread.run_sync(prepare, studio, req)
    return launch(studio, prepared, req)


def prepare_generate(studio: Studio, req: GenerateRequest) -> Prepared:
    first = studio.resolve_image(req.image, "image")
    last = studio.resolve_image(req.last_image, "last_image")
    video = studio.resolve_video(req.video, "video")
    plan = studio.plan(req, first=first, last=last, video=video, loop=req.loop)
    return from_plan("generate", plan, f"This {plan.model.key} clip", plan.spec.model_dump(mode="json"))


async def start_generate(studio: Studio, req: GenerateRequest) -> Job:
    return await launch_prepared(studio, prepare_generate, req)


def estimate(studio: Studio, req: GenerateRequest, *, compare: bool) -> list[Quote]:
    """Quote one request, or every eligible provider/model ranked by price."""
    first = studio.resolve_image(req.image, "image")
    last = studio.resolve_image(req.last_image, "last_image")
    video = studio.resolve_video(req.video, "video")
    if not compare:
        return [studio.plan(req, first=first, last=last, video=video, loop=req.loop).quote]
    quotes: list[Quote] = []
    for entry in studio.catalog.providers.values():
        for model in entry.models:
            if model.status == "retired":
                continue
            opts = req.model_copy(update={"provider": entry.name, "model": model.id})
            try:
                quotes.append(studio.plan(opts, first=first, last=last, video=video, loop=req.loop,
                                          provider=entry.name).quote)
            except Exception:  # ineligible (unsupported input, missing key, local backend absent)
                continue
    return sorted(quotes, key=lambda q: (q.usd, q.provider, q.model))


def prepare_extend(studio: Studio, req: ExtendRequest) -> Prepared:
    from reelforge.media.probe import probe  # PyAV: imported when a request needs it, not at server start
    from reelforge.studio.handlers import reusable_step

    source_path, source_job = studio.resolve_source(req.source)
    # Probed now, so a clip that cannot be joined is refused before anything is paid for.
    source = probe(source_path)
    native_plan = _native_extend_plan(studio, req, source_job, source_path)
    if native_plan is not None:
        plan, mode = native_plan, "native"
    else:
        if req.direction == "backward":
            raise InvalidRequest(
                "direction='backward' needs a provider with native extend of one of its own generations "
                "(e.g. Luma); the last-frame method only continues forward.", param="direction")
        # The child conditions on the source's exact last frame, extracted into our cache when the job runs
        # (named by the source's content, never written next to the user's file).
        placeholder = MediaRef(kind="file", path=str(_last_frame_path(studio, source_path)), mime="image/png")
        plan = studio.plan(req, first=placeholder)
        matched = _match_source(req, plan.model, source)
        if matched is not req:
            earlier = plan.notes  # e.g. a retired model's redirect, said once
            plan = studio.plan(matched, first=placeholder, provider=plan.model.provider)
            plan.notes = list(dict.fromkeys([*earlier, *plan.notes]))
        plan.notes = [*plan.notes, *_shape_notes(plan, source)]
        mode = "last_frame"
    request = {"source_path": str(source_path), "source_job_id": source_job.id if source_job else None,
               "mode": mode, "step": plan.to_state()}
    parents = [source_job.id] if source_job else []
    prepared = from_plan("extend", plan, f"Extending with {plan.model.key}", request, parents=parents, extra_eta=10)
    paid = reusable_step(studio.store, request["step"]["spec"], "child_id")
    if paid is not None:  # a failed identical extend already paid for this continuation
        prepared.quote_usd = 0.0
        prepared.notes.append(f"Re-uses the continuation of step job {paid.id}, already paid for by an earlier "
                              "extend that failed after it; nothing new is charged.")
    return prepared


async def start_extend(studio: Studio, req: ExtendRequest) -> Job:
    return await launch_prepared(studio, prepare_extend, req)


def _last_frame_path(studio: Studio, source: Path) -> Path:
    stat = source.stat()
    key = hashlib.sha256(f"{source}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:24]
    return studio.settings.cache_dir / "frames" / f"last-{key}.png"


def _match_source(req: ExtendRequest, model: Any, source: Any) -> ExtendRequest:
    """Ask for the continuation in the source's shape where the model allows it and the caller
    did not choose: its frame rate (or a whole fraction of it: 60 fps from a 30 fps render shows
    each frame twice) and its aspect ratio. The join conforms the rest to the source."""
    caps = model.capabilities
    width, height, rate, sar = _source_shape(source)
    update: dict[str, Any] = {}
    if req.fps is None:
        whole = round(rate)
        fits = [f for f in caps.fps if f == whole] or sorted(f for f in caps.fps if whole % f == 0 and f >= whole / 4)[-1:]
        if fits and fits[0] != caps.fps[0]:
            update["fps"] = fits[0]
    if req.aspect_ratio is None:
        shape = math.log(width * sar / height)
        aspect = min(caps.aspect_ratios, key=lambda a: abs(math.log(_ratio(a)) - shape))
        if aspect != caps.aspect_ratios[0]:
            update["aspect_ratio"] = aspect
    return req.model_copy(update={**update, "model": model.id}) if update else req


def _shape_notes(plan: Plan, source: Any) -> list[str]:
    """What the join will have to change, said up front."""
    width, height, rate, _ = _source_shape(source)
    notes = []
    if abs(plan.spec.fps - rate) > 1e-3 * rate:
        notes.append(f"The continuation is rendered at {plan.spec.fps} fps ({plan.model.key} offers "
                     f"{', '.join(map(str, plan.model.capabilities.fps))}) and resampled to the source's {rate:g} fps.")
    if min(plan.spec.width, plan.spec.height) < min(width, height):
        notes.append(f"The continuation is rendered at {plan.spec.resolution} and scaled up to the source's "
                     f"{width}x{height}; pass a higher resolution for a sharper continuation.")
    return notes


def _source_shape(source: Any) -> tuple[int, int, float, float]:
    """(even width, even height, constant rate, pixel aspect) the extended file will have."""
    from reelforge.media.join import constant_rate, even_size

    width, height = even_size(source.width, source.height)
    rate = float(constant_rate(source.fps)) if source.vfr else source.fps
    num, _, den = (source.sample_aspect_ratio or "1:1").partition(":")
    sar = int(num) / int(den) if num.isdigit() and den.isdigit() and int(num) and int(den) else 1.0
    return width, height, rate, sar


def _ratio(aspect: str) -> float:
    w, _, h = aspect.partition(":")
    return int(w) / int(h)


def _native_extend_plan(studio: Studio, req: ExtendRequest, source_job: Job | None,
                        source_path: Path) -> Plan | None:
    """Native extend: a local model that continues the clip itself (LTX conditions on the video), or
    a cloud provider whose model extends one of its own generations by remote id (Luma keyframes)."""
    if req.provider in studio.catalog.providers and studio.catalog.providers[req.provider].local:
        entry = studio.catalog.providers[req.provider]
        model = studio.catalog.find(entry.name, req.model) if req.model else next(
            (m for m in entry.models if m.capabilities.extend == "native" and "video" in m.capabilities.inputs), None)
        if model is not None and model.capabilities.extend == "native":
            video = MediaRef(kind="file", path=str(source_path), mime="video/mp4",
                             job_id=source_job.id if source_job else None)
            return studio.plan(req.model_copy(update={"model": model.id}), video=video, provider=entry.name)
    if source_job is None or source_job.kind != "generate" or not source_job.remote_id:
        return None
    wanted = req.provider if req.provider != "auto" else source_job.provider
    if wanted != source_job.provider:
        return None
    opts = req.model_copy(update={"provider": wanted, "model": req.model or source_job.model})
    model = studio.catalog.find(wanted, opts.model or "")
    if model is None or model.capabilities.extend != "native":
        return None
    return studio.plan(opts, continue_remote_id=source_job.remote_id, direction=req.direction, provider=wanted)


def prepare_loop(studio: Studio, req: LoopRequest) -> Prepared:
    request: dict[str, Any] = {"strategy": req.strategy, "crossfade_s": req.crossfade_s, "repeat": req.repeat}
    if req.source is not None:
        path, source_job = studio.resolve_source(req.source)
        request["source_path"] = str(path)
        return Prepared(kind="loop", request=request, quote_usd=0.0, what="This loop",
                        parents=[source_job.id] if source_job else [], eta_s=15)
    assert req.generate is not None
    plan = _loop_generation_plan(studio, req.generate, req.image, req.strategy)
    request["native"] = plan.spec.loop
    request["step"] = plan.to_state()
    return from_plan("loop", plan, f"Generating a loop with {plan.model.key}", request, extra_eta=15)


async def start_loop(studio: Studio, req: LoopRequest) -> Job:
    return await launch_prepared(studio, prepare_loop, req)


def _loop_generation_plan(studio: Studio, opts: GenerationOptions, image: str | None, strategy: str) -> Plan:
    first = studio.resolve_image(image, "image")
    if strategy == "native":
        return studio.plan(opts, first=first, loop=True)
    plan = studio.plan(opts, first=first)
    loop_mode = plan.model.capabilities.loop
    # "keyframe" models loop by pinning the same image at both ends, so they need a first frame.
    if strategy == "auto" and (loop_mode == "native" or (loop_mode == "keyframe" and first is not None)):
        return studio.plan(opts, first=first, loop=True, provider=plan.model.provider)
    return plan


def generation_from_inline(studio: Studio, data: dict[str, Any], where: str) -> Plan:
    """Plan an inline generation request (compose clips): GenerationOptions plus image/last_image."""
    raw = dict(data)
    image, last = raw.pop("image", None), raw.pop("last_image", None)
    try:
        opts = GenerationOptions.model_validate(raw)
    except ValidationError as exc:  # field by field, named from the timeline down (no pydantic dump)
        raise InvalidRequest(f"{validation_text(exc, prefix=f'{where}.generate')}.", param=f"{where}.generate",
                             hint="Fix these fields of the inline generation and call again.") from None
    return studio.plan(opts, first=studio.resolve_image(image, f"{where}.generate.image"),
                       last=studio.resolve_image(last, f"{where}.generate.last_image"))
