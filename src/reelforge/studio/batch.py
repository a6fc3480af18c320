"""generate_batch: many generations under one quote, one budget check and one confirmation.

Every item is planned and quoted when the request arrives (one item that cannot be planned refuses
the whole batch, by its index, before anything is paid). The batch job then runs its items as child
`generate` jobs through `steps.run_step`: each child is created only when its provider has a free
slot (bounded concurrency per provider, so 500 items do not mean 500 jobs in flight), and its id is
checkpointed, so a restarted batch waits for the same children instead of paying again. A failed
item does not stop the others; the batch fails only when no item succeeded. It ends with a
comparison sheet: each succeeded item's poster, labelled with that job's own provider, model, cost
and time; and, when asked (`reel`), a reel of the succeeded clips with the same labels burnt in,
side by side or one after another (`media/reel.py`; its size limit is checked when the batch is planned).
"""

from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import anyio
from pydantic import ValidationError

from reelforge.errors import InvalidRequest, MediaError, ReelforgeError, UnsupportedParameter, validation_text
from reelforge.jobs.job import Job, JobStatus
from reelforge.jobs.runner import JobContext
from reelforge.jobs.store import LeaseLost
from reelforge.media.reel import check_count
from reelforge.studio.clip_sources import resolve_image, resolve_video
from reelforge.studio.planning import GenerationPlan, plan
from reelforge.studio.prepared import Prepared
from reelforge.studio.steps import own_the_spend, run_step, step_cost
from reelforge.studio.tool_schemas import BatchCompare, BatchRequest, GenerateRequest

if TYPE_CHECKING:
    from reelforge.studio.core import Studio

log = logging.getLogger(__name__)

#: Call options belong to the batch (one confirmation, one idempotency key), never to one item.
_CALL_FIELDS = ("wait_seconds", "idempotency_key", "confirm")
_MAX_NOTES = 20
#: Shortest pause between two progress writes of a running batch.
PROGRESS_EVERY_S = 0.5


class BatchFailed(ReelforgeError):
    """No item of a batch succeeded (each item's own error is in its job)."""

    code = "batch_failed"


def _item_key(i: int) -> str:
    return f"item_{i}"


def expand(req: BatchRequest) -> tuple[list[dict[str, Any]], list[str]]:
    """The batch's items as generate requests, and notes: the compare form becomes one item per
    provider or provider/model, all with the same prompt and seed."""
    if req.items is not None:
        return [dict(item) for item in req.items], []
    try:
        compare = BatchCompare.model_validate(req.compare)
    except ValidationError as exc:
        raise InvalidRequest(f"{validation_text(exc, prefix='compare')}.", param="compare",
                             hint="compare is {prompt, providers_or_models: ['provider' or 'provider/model'], seed, "
                                  "shared: {other generate_video fields}}.") from None
    seed = compare.seed if compare.seed is not None else random.randrange(2**31)
    notes = [] if compare.seed is not None else [f"Seed {seed} was chosen for every item (none was given)."]
    items = []
    for target in compare.providers_or_models:
        provider, _, model = target.partition("/")
        items.append({**compare.shared, "prompt": compare.prompt, "seed": seed, "provider": provider.strip(),
                      **({"model": model.strip()} if model.strip() else {})})
    return items, notes


def _plan_item(studio: Studio, raw: dict[str, Any], where: str) -> GenerationPlan:
    try:
        item = GenerateRequest.model_validate(raw)
    except ValidationError as exc:  # field by field, named by the item's index
        raise InvalidRequest(f"{validation_text(exc, prefix=where)}.", param=where,
                             hint="Each item is a generate_video request; fix it and call again.") from None
    called = [f for f in _CALL_FIELDS if f in item.model_fields_set]
    if called:
        raise InvalidRequest(f"{where}.{called[0]}: is set on the batch, not on one item.", param=f"{where}.{called[0]}",
                             hint="Move it to the batch request.")
    return plan(studio, item, first=resolve_image(studio, item.image, f"{where}.image"),
                last=resolve_image(studio, item.last_image, f"{where}.last_image"),
                video=resolve_video(studio, item.video, f"{where}.video"), loop=item.loop)


def _named(exc: ReelforgeError, where: str) -> ReelforgeError:
    """The same refusal (class and code), naming the item it came from."""
    if not exc.message.startswith(where):
        exc.message = f"{where}: {exc.message}"
    if isinstance(exc, InvalidRequest):
        param = exc.param or ""
        exc.param = param if param.startswith(where) else f"{where}.{param}".rstrip(".")
    exc.hint = " ".join(x for x in (exc.hint, "Nothing in the batch was started or paid.") if x)
    return exc


def prepare(studio: Studio, req: BatchRequest) -> Prepared:
    raw_items, notes = expand(req)
    steps: list[dict[str, Any]] = []
    total, eta_by_provider = 0.0, {}
    for i, raw in enumerate(raw_items):
        where = f"items[{i}]" if req.items is not None else f"compare.providers_or_models[{i}]"
        try:
            try:
                planned = _plan_item(studio, raw, where)
            except UnsupportedParameter as exc:
                if req.compare is None or exc.param != "seed":
                    raise
                # A/B across models: one without a seed still runs, said plainly rather than refused.
                planned = _plan_item(studio, {k: v for k, v in raw.items() if k != "seed"}, where)
                notes.append(f"item {i} ({planned.model.key}) takes no seed: its result is not reproducible.")
        except ReelforgeError as exc:
            raise _named(exc, where) from None
        total += planned.quote.usd
        provider = planned.model.provider
        eta_by_provider[provider] = eta_by_provider.get(provider, 0.0) + planned.eta_s
        notes += [f"item {i}: {n}" for n in planned.notes]
        steps.append({"step": planned.to_state(), "provider": provider, "model": planned.model.id})
    if req.reel is not None:
        try:
            check_count(req.reel, len(steps))
        except ReelforgeError as exc:
            raise _named(exc, "reel") from None
    if len(notes) > _MAX_NOTES:  # 500 items often repeat one note: the job keeps the first ones
        notes = [*notes[:_MAX_NOTES], f"... and {len(notes) - _MAX_NOTES} more notes like these."]
    # Providers run side by side; each one's items run `concurrency` at a time.
    eta = max(eta_by_provider.values()) / min(req.concurrency, len(steps))
    request = {"items": steps, "concurrency": req.concurrency, "reel": req.reel}
    return Prepared(kind="batch", request=request, quote_usd=round(total, 4), what=f"This batch of {len(steps)} clips",
                    notes=notes, eta_s=round(eta, 1))


async def run(studio: Studio, ctx: JobContext) -> None:
    parent = ctx.job  # read once and shared: each step holding its own copy cost ~1 MB a step at N=500
    req = parent.request
    items: list[dict[str, Any]] = req["items"]
    limiters: dict[str, anyio.CapacityLimiter] = {}
    done: dict[int, Job | ReelforgeError] = {}
    reported = [0.0]

    async def one(i: int, item: dict[str, Any]) -> None:
        limiter = limiters.setdefault(item["provider"], anyio.CapacityLimiter(req["concurrency"]))
        async with limiter:  # the child is created only now: at most `concurrency` per provider in flight
            try:
                done[i] = await run_step(studio, ctx, _item_key(i), item["step"], many=True, parent=parent)
            except LeaseLost:
                raise
            except ReelforgeError as exc:  # one item's failure is its own; the others go on
                done[i] = exc
        # At most a few progress writes a second (each rewrites the batch's row, which holds every item).
        if len(done) == len(items) or time.monotonic() - reported[0] >= PROGRESS_EVERY_S:
            reported[0] = time.monotonic()
            ok = sum(isinstance(v, Job) for v in done.values())
            ctx.update(status=JobStatus.RUNNING, progress=len(done) / len(items),
                       stage=f"{len(done)}/{len(items)} items ended ({ok} succeeded)")

    try:
        async with anyio.create_task_group() as tg:
            for i, item in enumerate(items):
                tg.start_soon(one, i, item)
        succeeded = [(i, j) for i, j in sorted(done.items()) if isinstance(j, Job)]
        if not succeeded:
            raise BatchFailed(f"No item of the batch succeeded ({len(items)} failed); the first: "
                              f"{done[0].message if isinstance(done[0], ReelforgeError) else ''}",
                              hint="Read each item's job (get_job) for its error.")
        ctx.update(stage="drawing the comparison sheet")
        sheet = await anyio.to_thread.run_sync(_draw_sheet, studio.job_dir(ctx.job_id), [j for _, j in succeeded])
        reel = await _compose_reel(studio, ctx, req.get("reel"), [j for _, j in succeeded])
    except Exception as exc:  # items already made were paid for: the failed batch says what it cost
        own_the_spend(studio, ctx, exc, None)
        raise
    failed = [i for i in range(len(items)) if not isinstance(done.get(i), Job)]
    outputs = {"sheet_path": str(sheet) if sheet else None, "succeeded": len(succeeded), "failed": failed,
               **({"reel_path": str(reel)} if reel else {})}
    notes = ctx.job.notes + ([f"{len(failed)} item(s) failed: {', '.join(map(str, failed))}."] if failed else [])
    # Every child's cost, failed ones included (a provider can charge for a failure it reports).
    ctx.update(status=JobStatus.SUCCEEDED, progress=1.0, stage="done", eta_s=0, outputs=outputs, notes=notes,
               cost_usd=step_cost(studio, ctx))


def _draw_sheet(out_dir: Path, jobs: list[Job]) -> Path | None:
    from reelforge.media.comparison import Tile, comparison_sheet

    tiles = [Tile(Path(j.outputs["poster_path"]), tile_label(j)) for j in jobs if j.outputs.get("poster_path")]
    if not tiles:
        return None
    # Full-size tiles up to 48 items; beyond, smaller tiles and labels, so the sheet stays a few
    # megapixels (200 full tiles took 78 MB to draw; 500 would take about 190 MB).
    scale = min(1.0, math.sqrt(48 / len(tiles)))
    return comparison_sheet(tiles, out_dir / "comparison.jpg", tile_width=max(96, int(320 * scale)),
                            font_px=max(9, round(16 * scale))).path


async def _compose_reel(studio: Studio, ctx: JobContext, kind: str | None, jobs: list[Job]) -> Path | None:
    """The succeeded clips as one labelled reel, when the batch asked for one (in item order)."""
    if kind is None:
        return None
    from reelforge.media.reel import ReelClip, ReelKind, compose_reel

    ctx.update(stage=f"composing the {kind.replace('_', '-')} reel")
    clips = [ReelClip(Path(j.outputs["path"]), tile_label(j)) for j in jobs if j.outputs.get("path")]
    try:
        async with studio.media_limiter:  # ffmpeg work shares the media queue with compose, extend and loop
            return (await compose_reel(cast(ReelKind, kind), clips, studio.job_dir(ctx.job_id) / "reel.mp4")).path
    except MediaError as exc:  # the clips are made and paid: a reel that cannot be drawn is said, not a failed batch
        log.warning("batch %s: the %s reel failed: %s", ctx.job_id, kind, exc.message)
        ctx.update(notes=[*ctx.job.notes, f"The {kind} reel could not be composed: {exc.message[:300]}"])
        return None


def elapsed_s(job: Job) -> float | None:
    """A child's own time: from its row's creation to its end."""
    return None if job.finished_at is None else round(job.finished_at - job.created_at, 1)


def tile_label(job: Job) -> list[str]:
    """A tile's label: the job's own figures (provider, model, cost, time)."""
    seconds = elapsed_s(job)
    return [f"{job.provider} / {job.model}", f"${job.cost_usd or 0.0:.2f}  {seconds if seconds is not None else '?'} s"]


def item_rows(studio: Studio, batch: Job) -> list[dict[str, Any]]:
    """Per-item status for a batch view: one row per item, whether its child exists yet or not."""
    children = {c.state.get("step_key"): c for c in studio.store.children(batch.id)}
    rows = []
    for i, item in enumerate(batch.request.get("items", [])):
        child = children.get(_item_key(i))
        row: dict[str, Any] = {"index": i, "provider": item["provider"], "model": item["model"],
                               "job_id": child.id if child else batch.state.get(_item_key(i)),
                               "status": child.status.value if child else "waiting"}
        if child is not None:
            row.update(cost_usd=child.cost_usd, time_s=elapsed_s(child) if child.status.terminal else
                       round(time.time() - child.created_at, 1))
            if child.error_message:
                row["error"] = child.error_message
        rows.append(row)
    return rows
