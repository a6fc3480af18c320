"""The `preview` provider: free, offline animatics rendered on this CPU.

It is the default when no provider key is configured, so a fresh install can exercise every tool
(generate, extend, loop, compose) end to end. Its output is labelled PREVIEW on every frame and
`is_preview` in every job view: it plans shots, it does not pretend to be a generated video.
"""

from __future__ import annotations

from pathlib import Path

from reelforge.catalog import ModelEntry
from reelforge.errors import InvalidRequest, UnsupportedParameter
from reelforge.providers.base import LocalProvider, ProgressFn
from reelforge.generation_spec import GenerationSpec, MediaRef


def _local(ref: MediaRef | None, param: str) -> Path | None:
    if ref is None:
        return None
    if ref.kind != "file":
        raise InvalidRequest(
            f"The preview provider renders from local files only; {param} is a URL.",
            param=param, hint="Download the image into an allowed folder and pass its path.",
        )
    return ref.local_path


class PreviewProvider(LocalProvider):
    name = "preview"

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        if spec.extra:  # never silently dropped
            raise UnsupportedParameter(
                f"The preview provider takes no options (got {', '.join(sorted(spec.extra))}).", param="options")
        if spec.first_frame is None:  # the prompt is drawn on a title card: say what it cannot draw
            from reelforge.media.text import prompt_notes

            return spec, prompt_notes(spec.prompt)
        return spec, []

    async def render(self, spec: GenerationSpec, model: ModelEntry, dest: Path, progress: ProgressFn) -> None:
        from reelforge.media.animatic import render_animatic

        first = _local(spec.first_frame, "image")
        last = _local(spec.last_frame, "last_image")

        async def on_progress(fraction: float) -> None:
            await progress(fraction, "rendering preview animatic")

        await render_animatic(
            dest, width=spec.width, height=spec.height, fps=spec.fps, duration_s=spec.duration_s,
            seed=spec.seed or 0, prompt=spec.prompt, first_frame=first, last_frame=last, loop=spec.loop,
            progress=on_progress,
        )
