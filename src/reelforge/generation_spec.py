"""Normalised requests: what a tool call becomes after the catalog has checked it.

`GenerationSpec` is the one shape every provider receives. It is stored verbatim in the ledger
(so a restarted server can resume, and a receipt can show exactly what was asked), holds no
secrets, and names its inputs as resolved local files or vetted public URLs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MediaRef(BaseModel):
    """A resolved input: a local file inside an allowed root, or a vetted public URL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["file", "url"]
    path: str | None = None
    url: str | None = None
    mime: str = "application/octet-stream"
    #: Set when the input is the output of one of our jobs (lineage for receipts, native extend).
    job_id: str | None = None

    @property
    def local_path(self) -> Path:
        if self.path is None:
            raise ValueError("not a local file")
        return Path(self.path)


class GenerationSpec(BaseModel):
    """A fully resolved generation request for one provider model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    model: str
    prompt: str = ""
    negative_prompt: str | None = None
    duration_s: float
    aspect_ratio: str
    resolution: str
    width: int
    height: int
    fps: int
    seed: int | None = None
    first_frame: MediaRef | None = None
    last_frame: MediaRef | None = None
    #: A source video: continuation input for extend, or video-to-video input.
    video: MediaRef | None = None
    #: The provider-side id of an earlier generation to continue natively (e.g. Luma keyframes).
    continue_remote_id: str | None = None
    #: "forward" continues after the clip, "backward" generates what came before it.
    continue_direction: Literal["forward", "backward"] = "forward"
    loop: bool = False
    audio: bool | None = None
    camera_move: str | None = None
    #: Provider-specific knobs the catalog allows (validated by the adapter).
    extra: dict[str, object] = Field(default_factory=dict)

    @property
    def frame_count(self) -> int:
        return max(1, round(self.duration_s * self.fps))


def size_for(aspect_ratio: str, short_edge: int, multiple: int = 2) -> tuple[int, int]:
    """Pixel size for an aspect ratio and a short edge, each side a multiple of `multiple`."""
    w_r, h_r = (int(x) for x in aspect_ratio.split(":"))

    def snap(v: float) -> int:
        return max(multiple, int(round(v / multiple)) * multiple)

    if w_r >= h_r:
        return snap(short_edge * w_r / h_r), snap(short_edge)
    return snap(short_edge), snap(short_edge * h_r / w_r)
