"""`local`: open video models (LTX-Video, Wan 2.2) on this machine's GPU through diffusers.

The provider is light: importing it imports neither torch nor diffusers. `normalize` snaps a
request to the model's frame and size rules and reports each change; `check_available` says
plainly what is missing (the `[local]` extra, the weights); `render` queues the job on the single
GPU worker and relays per-step progress. Cancellation of the awaiting task stops the render
within one denoising step (see `worker.py`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from reelforge.catalog import ModelEntry
from reelforge.errors import LocalBackendUnavailable, UnsupportedParameter
from reelforge.providers.base import LocalProvider, ProgressFn
from reelforge.providers.local.options import LocalOptions
from reelforge.providers.local.plan import RenderPlan, build_plan
from reelforge.providers.local.specs import MODELS, ModelSpec, snap_request
from reelforge.providers.local.store import locate
from reelforge.providers.local.worker import GpuJob, JobBody, gpu_worker, run_job
from reelforge.generation_spec import GenerationSpec

_EXTRA_HINT = "Install the local extra: pip install 'reelforge[local]' (torch, diffusers, transformers)."


class LocalDiffusersProvider(LocalProvider):
    name = "local"

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        """Snap size, fps and frame count to the model's rules; fix the seed. One note per change."""
        mspec = _model_spec(model)
        options = LocalOptions.from_settings(self.settings)
        plan = self._plan(spec, mspec, options)
        snap = snap_request(spec.width, spec.height, spec.fps, spec.duration_s, mspec, options.max_pixels)
        notes = [n for n in snap.notes if not n.startswith("duration")]
        seconds = output_frames(plan) / plan.fps
        if abs(seconds - spec.duration_s) > 1e-6:
            notes.append(
                f"duration {spec.duration_s:g} s -> {output_frames(plan)} frames at {plan.fps} fps = {seconds:.2f} s "
                f"({mspec.id} renders {mspec.frames_multiple}k+1 frames{_duration_reason(plan)})"
            )
        if spec.seed is None:
            notes.append(f"seed {plan.seed} (derived from the request; pass seed to choose another)")
        updated = spec.model_copy(
            update={"width": plan.width, "height": plan.height, "fps": plan.fps, "duration_s": seconds, "seed": plan.seed}
        )
        return updated, notes

    def check_available(self, model: ModelEntry) -> None:
        """Raise LocalBackendUnavailable when the extra or the weights are missing (cheap: no torch import)."""
        mspec = _model_spec(model)
        missing = [m for m in ("torch", "diffusers", "transformers") if importlib.util.find_spec(m) is None]
        if missing:
            raise LocalBackendUnavailable(f"The local backend needs {', '.join(missing)}.", hint=_EXTRA_HINT)
        source = locate(mspec, LocalOptions.from_settings(self.settings))
        if not source.present:
            raise LocalBackendUnavailable(
                f"The weights of {mspec.id} are not on this machine.",
                hint=f"Run `reelforge models pull {mspec.id}` once (downloads {mspec.hf_repo}), or set "
                "REELFORGE_LOCAL_MODEL_PATHS to a diffusers-format directory.",
            )

    async def render(self, spec: GenerationSpec, model: ModelEntry, dest: Path, progress: ProgressFn) -> None:
        """Render on the GPU worker and write the mp4 to `dest` (atomically)."""
        mspec = _model_spec(model)
        options = LocalOptions.from_settings(self.settings)
        plan = self._plan(spec, mspec, options)
        self.check_available(model)
        await run_job(GpuJob(plan, dest, options), progress, gpu_worker(_load_body))
        await progress(1.0, "done")

    def _plan(self, spec: GenerationSpec, mspec: ModelSpec, options: LocalOptions) -> RenderPlan:
        from reelforge.security import allowed_roots

        roots = allowed_roots(self.settings)  # the same rule as every other input (keyframe paths included)
        return build_plan(spec, mspec, roots, options.max_pixels)


def output_frames(plan: RenderPlan) -> int:
    """Frames in the written file: the generated ones, less a loop's duplicate last frame."""
    return plan.frames - 1 if plan.drop_last else plan.frames


def _duration_reason(plan: RenderPlan) -> str:
    if plan.task == "extend":
        return "; an extension adds new frames in steps of 8 after the source clip"
    if plan.drop_last:
        return "; a loop drops its last frame, which repeats the first"
    return ""


def _model_spec(model: ModelEntry) -> ModelSpec:
    mspec = MODELS.get(model.id)
    if mspec is None:
        raise UnsupportedParameter(
            f"'{model.id}' is not a local model; local models: {', '.join(sorted(MODELS))}.", param="model"
        )
    return mspec


def _load_body() -> JobBody:
    """The GPU job body, loaded in the worker thread on its first job: this is where torch and
    diffusers are imported, never at server start."""
    from reelforge.providers.local.execute import execute

    return execute
