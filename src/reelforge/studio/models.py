"""The tools' input and output models: the JSON schemas a calling model reads.

Field descriptions are written for that model: what each field means, what is accepted, what
happens by default. Work-starting requests share the call options (wait, confirm, idempotency).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reelforge.timeline.spec import TimelineSpec


class CallOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    wait_seconds: float | None = Field(
        default=None, ge=0, le=300,
        description="How long to wait for the result before returning a job handle (default: the server's "
        "setting, 40 s). Use get_job(job_id, wait_seconds) to keep waiting.",
    )
    idempotency_key: str | None = Field(
        default=None, max_length=200,
        description="Any unique string. Repeating a call with the same key returns the first job instead of "
        "starting (and paying for) a new one; the same key with a different request is refused. Recommended for paid providers.",
    )
    confirm: bool = Field(
        default=False,
        description="Set true only after the user has approved the quoted cost of a paid job above the "
        "confirmation threshold.",
    )


class GenerationOptions(BaseModel):
    """What to generate and with which model; shared by generate, extend and loop."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(default="", max_length=5000, description="What the clip shows. Required for text-to-video.")
    provider: str = Field(
        default="auto",
        description="Provider name (see list_models), or 'auto': the configured default, else the first provider "
        "with a key, else the free offline 'preview' animatic renderer.",
    )
    model: str | None = Field(default=None, description="Model id within the provider (see list_models); default: the provider's default model.")
    duration_s: float | None = Field(default=None, gt=0, le=120, description="Clip length in seconds; must be one the model accepts.")
    aspect_ratio: str | None = Field(default=None, description="e.g. '16:9', '9:16', '1:1'. Default: the model's first.")
    resolution: str | None = Field(default=None, description="e.g. '480p', '720p', '1080p'. Default: the model's first.")
    fps: int | None = Field(default=None, ge=1, le=120, description="Frames per second, where the model lets you choose.")
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1, description="Seed for reproducible results, where the model accepts one.")
    negative_prompt: str | None = Field(default=None, max_length=2000, description="What to avoid, where supported.")
    audio: bool | None = Field(default=None, description="Generate sound, where the model can (may cost more).")
    camera_move: str | None = Field(default=None, description="A camera move the model knows (see list_models).")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="Provider-specific options listed in the model's catalog entry (e.g. local keyframes).",
    )


class GenerateRequest(GenerationOptions, CallOptions):
    """Text-to-video, or image-to-video with a first frame and optionally a last frame."""

    image: str | None = Field(
        default=None,
        description="First frame: an absolute path inside an allowed folder, or a public https URL.",
    )
    last_image: str | None = Field(default=None, description="Last frame (interpolation), where the model supports it.")
    video: str | None = Field(
        default=None,
        description="Source video for video-to-video models (e.g. runway/aleph2): a path inside an allowed folder "
        "or a public https URL.",
    )
    loop: bool = Field(default=False, description="Ask the model for a seamless loop (models with native loop only).")


class VideoSource(BaseModel):
    """A clip to work on: one of our job ids, or a local video file."""

    model_config = ConfigDict(extra="forbid")

    job_id: str | None = Field(default=None, description="A finished job whose output to use.")
    path: str | None = Field(default=None, description="Absolute path of a video inside an allowed folder.")

    @model_validator(mode="after")
    def _exactly_one(self) -> VideoSource:
        if (self.job_id is None) == (self.path is None):
            raise ValueError("give exactly one of job_id or path")
        return self


class ExtendRequest(GenerationOptions, CallOptions):
    """Continue a clip: native extend where the provider has one, else last frame → image-to-video → join."""

    source: VideoSource = Field(description="The clip to continue.")
    direction: Literal["forward", "backward"] = Field(
        default="forward", description="'backward' generates what came before (native extend providers only)."
    )


class LoopRequest(CallOptions):
    """Make a seamless loop from a clip, or generate one."""

    model_config = ConfigDict(extra="forbid")

    source: VideoSource | None = Field(default=None, description="An existing clip to loop.")
    generate: GenerationOptions | None = Field(
        default=None, description="Or: generate a new clip to loop (uses the model's native loop where it has one)."
    )
    image: str | None = Field(default=None, description="With 'generate': a first frame for the generated clip.")
    strategy: Literal["auto", "search", "crossfade", "pingpong", "native"] = Field(
        default="auto",
        description="auto: loop-point search, else tail-into-head crossfade; native: the provider's own loop "
        "(needs 'generate'); pingpong: forward then reversed.",
    )
    crossfade_s: float | None = Field(default=None, gt=0, le=5, description="Crossfade length for the crossfade strategy.")
    repeat: int = Field(default=1, ge=1, le=20, description="Repeat the finished loop this many times in the file.")

    @model_validator(mode="after")
    def _one_source(self) -> LoopRequest:
        if (self.source is None) == (self.generate is None):
            raise ValueError("give exactly one of source or generate")
        if self.strategy == "native" and self.generate is None:
            raise ValueError("strategy 'native' needs 'generate' (a provider loops only what it generates)")
        return self


class ComposeRequest(CallOptions):
    """A timeline to render, with the usual call options."""

    model_config = ConfigDict(extra="forbid")

    timeline: TimelineSpec = Field(description="Clips, transitions, audio bed, titles and output preset.")
    name: str = Field(default="timeline", pattern=r"^[A-Za-z0-9._-]{1,64}$", description="Output file name (no extension).")


class Quote(BaseModel):
    provider: str
    model: str
    usd: float = Field(description="Expected charge in US dollars.")
    breakdown: str = Field(description="How the figure was computed.")
    source: str
    as_of: str
    estimate: bool = Field(description="True when the price is unverified or derived.")
    is_preview: bool = False


class ErrorView(BaseModel):
    code: str
    message: str


class OutputView(BaseModel):
    path: str = Field(description="Absolute path of the finished video.")
    file_uri: str
    sha256: str
    poster_path: str | None = None
    contact_sheet_path: str | None = None
    receipt_path: str | None = None
    otio_path: str | None = None
    duration_s: float
    frames: int
    fps: float
    width: int
    height: int
    codec: str
    has_audio: bool
    size_bytes: int
    extra: dict[str, Any] = Field(default_factory=dict, description="Seam metrics, join report, plan, exports.")


class JobView(BaseModel):
    """A job handle: what is happening, what it costs, and where the result is."""

    job_id: str
    kind: str
    status: str = Field(description="queued, submitting, running, downloading, succeeded, failed, canceled, or unknown.")
    progress: float | None = Field(default=None, description="0..1 when known; never invented.")
    stage: str | None = None
    provider: str | None = None
    model: str | None = None
    is_preview: bool = Field(default=False, description="True for the free offline animatic renderer: a preview, not a generated video.")
    uri: str
    quote_usd: float | None = None
    cost_usd: float | None = None
    eta_s: float | None = Field(default=None, description="Honest estimate of seconds left, from the model's typical time.")
    error: ErrorView | None = None
    notes: list[str] = Field(default_factory=list)
    parents: list[str] = Field(default_factory=list)
    output: OutputView | None = None
    next_step: str | None = Field(default=None, description="What to do next with this job.")


class JobList(BaseModel):
    jobs: list[JobView]
