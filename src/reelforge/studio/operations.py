"""Starting work: each tool request becomes checked, quoted job rows (and nothing else).

The derived operations (extend, loop, compose) plan their generation steps up front, so the whole
cost is quoted and budget-checked before anything starts; the handlers create those step jobs
later from the stored plans.
"""

from __future__ import annotations

from typing import Any

from reelforge.errors import InvalidRequest
from reelforge.jobs.models import Job
from reelforge.requests import MediaRef
from reelforge.studio.core import Plan, Studio
from reelforge.studio.models import ExtendRequest, GenerateRequest, GenerationOptions, LoopRequest
from reelforge.studio.pricing import Quote


async def start_generate(studio: Studio, req: GenerateRequest) -> Job:
    first = studio.resolve_image(req.image, "image")
    last = studio.resolve_image(req.last_image, "last_image")
    plan = studio.plan(req, first=first, last=last, loop=req.loop)
    studio.check_budget(plan.quote.usd, req, f"This {plan.model.key} clip")
    return studio.create_generation(plan, call=req, parents=[])


def estimate(studio: Studio, req: GenerateRequest, *, compare: bool) -> list[Quote]:
    """Quote one request, or every eligible provider/model ranked by price."""
    first = studio.resolve_image(req.image, "image")
    last = studio.resolve_image(req.last_image, "last_image")
    if not compare:
        return [studio.plan(req, first=first, last=last, loop=req.loop).quote]
    quotes: list[Quote] = []
    for entry in studio.catalog.providers.values():
        for model in entry.models:
            if model.status == "retired":
                continue
            opts = req.model_copy(update={"provider": entry.name, "model": model.id})
            try:
                quotes.append(studio.plan(opts, first=first, last=last, loop=req.loop, provider=entry.name).quote)
            except Exception:  # ineligible (unsupported input, missing key, local backend absent)
                continue
    return sorted(quotes, key=lambda q: (q.usd, q.provider, q.model))


async def start_extend(studio: Studio, req: ExtendRequest) -> Job:
    source_path, source_job = studio.resolve_source(req.source)
    native_plan = _native_extend_plan(studio, req, source_job)
    if native_plan is not None:
        plan, mode = native_plan, "native"
    else:
        if req.direction == "backward":
            raise InvalidRequest(
                "direction='backward' needs a provider with native extend of one of its own generations "
                "(e.g. Luma); the last-frame method only continues forward.", param="direction")
        # The child conditions on the source's exact last frame, extracted when the job runs.
        placeholder = MediaRef(kind="file", path=str(source_path.with_name("last_frame.png")), mime="image/png")
        plan = studio.plan(req, first=placeholder)
        mode = "last_frame"
    studio.check_budget(plan.quote.usd, req, f"Extending with {plan.model.key}")
    request = {"source_path": str(source_path), "source_job_id": source_job.id if source_job else None,
               "mode": mode, "step": plan.to_state()}
    parents = [source_job.id] if source_job else []
    return studio.create_job("extend", request=request, call=req, quote_usd=plan.quote.usd,
                             quote_detail=plan.quote.model_dump(mode="json"), provider=plan.model.provider,
                             model=plan.model.id, parents=parents, notes=plan.notes,
                             eta_s=plan.model.typical_seconds + 10)


def _native_extend_plan(studio: Studio, req: ExtendRequest, source_job: Job | None) -> Plan | None:
    """Native extend: the source is one of our jobs from a provider whose model extends its own output."""
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


async def start_loop(studio: Studio, req: LoopRequest) -> Job:
    request: dict[str, Any] = {"strategy": req.strategy, "crossfade_s": req.crossfade_s, "repeat": req.repeat}
    parents: list[str] = []
    if req.source is not None:
        path, source_job = studio.resolve_source(req.source)
        request["source_path"] = str(path)
        parents = [source_job.id] if source_job else []
        return studio.create_job("loop", request=request, call=req, quote_usd=0.0, quote_detail=None,
                                 provider=None, model=None, parents=parents, notes=[], eta_s=15)
    assert req.generate is not None
    plan = _loop_generation_plan(studio, req.generate, req.image, req.strategy)
    request["native"] = plan.spec.loop
    request["step"] = plan.to_state()
    studio.check_budget(plan.quote.usd, req, f"Generating a loop with {plan.model.key}")
    return studio.create_job("loop", request=request, call=req, quote_usd=plan.quote.usd,
                             quote_detail=plan.quote.model_dump(mode="json"), provider=plan.model.provider,
                             model=plan.model.id, parents=parents, notes=plan.notes,
                             eta_s=plan.model.typical_seconds + 15)


def _loop_generation_plan(studio: Studio, opts: GenerationOptions, image: str | None, strategy: str) -> Plan:
    first = studio.resolve_image(image, "image")
    if strategy == "native":
        return studio.plan(opts, first=first, loop=True)
    plan = studio.plan(opts, first=first)
    if strategy == "auto" and plan.model.capabilities.loop == "native":
        return studio.plan(opts, first=first, loop=True, provider=plan.model.provider)
    return plan


def generation_from_inline(studio: Studio, data: dict[str, Any], where: str) -> Plan:
    """Plan an inline generation request (compose clips): GenerationOptions plus image/last_image."""
    raw = dict(data)
    image, last = raw.pop("image", None), raw.pop("last_image", None)
    try:
        opts = GenerationOptions.model_validate(raw)
    except Exception as exc:
        raise InvalidRequest(f"{where}.generate is not a valid generation request: {exc}", param=f"{where}.generate") from exc
    return studio.plan(opts, first=studio.resolve_image(image, f"{where}.generate.image"),
                       last=studio.resolve_image(last, f"{where}.generate.last_image"))
