"""The tools' input and output models: the JSON schemas a calling model reads.

Field descriptions are written for that model: what each field means, what is accepted, what
happens by default. Work-starting requests share the call options (wait, confirm, idempotency).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from reelforge.timeline.spec import TimelineSpec


class CallOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Call options are explained once, in the server's instructions and the reelforge://guide resource.
    wait_seconds: float | None = Field(default=None, ge=0, le=300)
    idempotency_key: str | None = Field(default=None, max_length=200, description="Same key: the same job, never paid twice.")
    confirm: bool = Field(default=False, description="True once the user approved the cost.")
    #: The call's `Prepared` job once the approval question prepared it, so the call is prepared once.
    _prepared: Any = PrivateAttr(default=None)


class GenerationOptions(BaseModel):
    """What to generate and with which model; shared by generate, extend and loop."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(default="", max_length=5000, description="Required for text-to-video.")
    provider: str = Field(default="auto", description="'auto', 'preview' (free) or see list_models.")
    model: str | None = Field(default=None, description="See list_models.")
    duration_s: float | None = Field(default=None, gt=0, le=120, description="One the model accepts.")
    aspect_ratio: str | None = Field(default=None, description="e.g. '16:9'.")
    resolution: str | None = Field(default=None, description="e.g. '720p'.")
    fps: int | None = Field(default=None, ge=1, le=120)
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    negative_prompt: str | None = Field(default=None, max_length=2000)
    audio: bool | None = Field(default=None, description="Generate sound (may cost more).")
    camera_move: str | None = Field(default=None, description="See list_models.")
    options: dict[str, Any] = Field(default_factory=dict, description="Model-specific; see list_models.")


class PromptParts(BaseModel):
    """A structured prompt, built into text in this order (reelforge://styles shows the shape)."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, max_length=500)
    action: str | None = Field(default=None, max_length=500)
    setting: str | None = Field(default=None, max_length=500)
    camera: str | None = Field(default=None, max_length=300)
    style: str | None = Field(default=None, max_length=300)
    lighting: str | None = Field(default=None, max_length=300)
    details: str | None = Field(default=None, max_length=500)


class GenerateRequest(GenerationOptions, CallOptions):
    """Text-to-video, or image-to-video with a first frame and optionally a last frame."""

    # Style presets and the structured prompt; both are explained in the reelforge://styles resource.
    # No length bound on style (bytes in every tools/list): an unknown name is refused by name anyway.
    style: str | None = Field(default=None, description="See reelforge://styles.")
    prompt_parts: PromptParts | None = Field(default=None, description="After prompt.")

    # Media inputs: an absolute path inside an allowed folder, or a public https URL.
    image: str | None = Field(default=None, description="First frame: absolute path or https URL.")
    last_image: str | None = Field(default=None, description="Last frame.")
    video: str | None = Field(default=None, description="Source for video-to-video models.")
    loop: bool = Field(default=False, description="Native seamless loop.")
    route: Literal["preference", "cheapest", "fastest", "best", "local_first"] | None = Field(
        default=None, description="How provider 'auto' picks (default REELFORGE_ROUTE).")
    fallback: list[str] | bool = Field(default=False, description="If refused or failed unbilled: "
                                       "'provider[/model]' list, in order, or true (the route's next).")
    characters: list[str] | None = Field(default=None, max_length=9, description="Names from save_character.")


class VideoSource(BaseModel):
    """A clip: job_id (a finished job) or path (an absolute video path)."""

    model_config = ConfigDict(extra="forbid")

    job_id: str | None = None
    path: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> VideoSource:
        if (self.job_id is None) == (self.path is None):
            raise ValueError("give exactly one of job_id or path")
        return self


class ExtendRequest(GenerationOptions, CallOptions):
    """Continue a clip: native extend where the provider has one, else last frame → image-to-video → join."""

    source: VideoSource
    direction: Literal["forward", "backward"] = Field(default="forward", description="backward: native extend only.")


class LoopRequest(CallOptions):
    """Make a seamless loop from a clip, or generate one."""

    model_config = ConfigDict(extra="forbid")

    source: VideoSource | None = Field(default=None, description="A clip to loop; or give 'generate'.")
    generate: GenerationOptions | None = Field(default=None, description="generate_video's fields: a new clip.")
    image: str | None = Field(default=None, description="With 'generate': its first frame.")
    strategy: Literal["auto", "search", "crossfade", "pingpong", "native"] = Field(
        default="auto", description="native needs 'generate'.")
    crossfade_s: float | None = Field(default=None, gt=0, le=5)
    repeat: int = Field(default=1, ge=1, le=20)

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

    timeline: TimelineSpec = Field(description="Format: resource reelforge://timeline.")
    name: str = Field(default="timeline", pattern=r"^[A-Za-z0-9._-]{1,64}$")


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


class BatchCompare(BaseModel):
    """One prompt across several providers/models with one seed (an A/B comparison)."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = Field(min_length=1, max_length=5000)
    providers_or_models: list[str] = Field(min_length=1, max_length=50, description="'provider' or 'provider/model'.")
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1, description="Default: one random seed for all.")
    shared: dict[str, Any] = Field(default_factory=dict, description="Other generate_video fields for every item.")


class BatchRequest(CallOptions):
    """Many generations under one quote, one budget check and one confirmation."""

    model_config = ConfigDict(extra="forbid")

    # `items` and `compare` are published as plain objects (the tool list would otherwise repeat
    # generate_video's schema); the server validates them when the batch is prepared, naming the
    # item and field it refuses. The compare form is described in the README and reelforge://guide.
    items: list[dict[str, Any]] | None = Field(default=None, max_length=1000, description="Each a generate_video request.")
    compare: dict[str, Any] | None = Field(default=None, description="{prompt, providers_or_models: ['provider[/model]'], seed}")
    concurrency: int = Field(default=4, ge=1, le=1000, description="Per provider.")
    reel: Literal["side_by_side", "sequential"] | None = Field(
        default=None, description="Labelled clip reel; side_by_side: max 9 items.")

    @model_validator(mode="after")
    def _one_form(self) -> BatchRequest:
        if (self.items is None) == (self.compare is None):
            raise ValueError("give exactly one of items or compare")
        if self.items is not None and not self.items:
            raise ValueError("items is empty")
        return self
