"""Timeline composition: the engine of the `compose_timeline` tool.

    from reelforge.timeline import TimelineSpec, render_timeline
    spec = TimelineSpec.model_validate(request).with_clip_paths(paths)
    result = await render_timeline(spec, out_dir, cache_dir=cache_dir, progress=report)

`spec` holds the input models, `otio_model` the OpenTimelineIO mapping, `validate` the checks
made before rendering, `planner` the choice between stream copy, audio-only and segment
rendering, `segments`/`audio`/`titles`/`filters` the ffmpeg argv builders, `render` the
orchestration. See docs/timeline.md for the request format.
"""

from typing import Any

from reelforge.timeline.spec import (
    AudioBedSpec,
    ClipSpec,
    ComposeResult,
    TimelineSpec,
    TitleSpec,
    TransitionSpec,
)

__all__ = [
    "AudioBedSpec",
    "ClipSpec",
    "ComposeResult",
    "TimelineSpec",
    "TitleSpec",
    "TransitionSpec",
    "render_timeline",
]


def __getattr__(name: str) -> Any:
    # Rendering pulls in PyAV and Pillow; the server imports only the spec at start (it must stay light).
    if name == "render_timeline":
        from reelforge.timeline.render import render_timeline

        return render_timeline
    raise AttributeError(name)
