"""The body of one GPU job, run in the worker thread: make the right pipeline resident, render.

Imported lazily by the worker on its first job; this is where torch and diffusers get imported.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from reelforge.providers.local.loading import LoadedPipeline, load_pipeline
from reelforge.providers.local.render_plan import render_plan
from reelforge.providers.local.specs import get_spec

if TYPE_CHECKING:
    from reelforge.providers.local.worker import GpuJob, GpuWorker

log = logging.getLogger(__name__)


def execute(worker: GpuWorker, job: GpuJob, report: Callable[[float, str], None]) -> None:
    """Render `job`, loading its model into `worker.resident` first when another one is there."""
    spec = get_spec(job.plan.model_id)
    base_class = spec.pipelines["t2v"] if "t2v" in spec.pipelines else job.plan.pipeline
    key = (spec.id, base_class, job.options.load_key())
    resident: LoadedPipeline | None = worker.resident
    if resident is None or resident.key != key:
        if resident is not None:
            log.info("unloading %s to make room for %s", resident.model_id, spec.id)
            # Drop every reference before loading, or both models sit in VRAM at once.
            resident = worker.resident = None
            _empty_cache()
        report(0.01, f"loading {spec.id}")
        resident = worker.resident = load_pipeline(spec, base_class, job.options)
    render_plan(resident, spec, job.plan, job.options, job.dest, job.cancel, report)


def _empty_cache() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
