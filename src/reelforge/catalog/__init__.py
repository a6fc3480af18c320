"""The model catalog's schema: what every provider's models accept and cost, as data.

The data itself lives beside each adapter (`reelforge/providers/<name>/catalog.json`) and is read
and validated by `reelforge.providers.registry.load_catalog()`, which also validates each model's
`facts` with the provider's own typed model. This module is the bottom layer: it never imports
`reelforge.providers`. Requests are checked against an entry before anything is sent or paid.
Who hosts a model (auth, job API, credentials) lives in `reelforge.providers`; what a model can do
lives here.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, model_validator

InputKind = Literal["text", "image", "first_last", "keyframes", "video", "reference"]
ModelStatus = Literal["ga", "preview", "deprecated", "retired"]
ExtendMode = Literal["native", "last_frame", "none"]
LoopMode = Literal["native", "keyframe", "none"]

ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")
#: Short edge in pixels for each named resolution; sizes are derived with the aspect ratio.
RESOLUTION_SHORT_EDGE = {
    "360p": 360, "480p": 480, "512p": 512, "540p": 540, "576p": 576, "720p": 720, "768p": 768, "1024p": 1024,
    "1080p": 1080, "4k": 2160,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DurationRule(_Strict):
    """Allowed output durations in seconds: a list of choices, or a range with a step."""

    choices: list[float] | None = None
    min: float | None = None
    max: float | None = None
    step: float | None = None
    default: float

    @model_validator(mode="after")
    def _one_form(self) -> DurationRule:
        if (self.choices is None) == (self.min is None or self.max is None):
            raise ValueError("give either 'choices' or both 'min' and 'max'")
        return self

    def accepts(self, seconds: float) -> bool:
        if self.choices is not None:
            return any(abs(seconds - c) < 1e-6 for c in self.choices)
        assert self.min is not None and self.max is not None
        if not self.min - 1e-6 <= seconds <= self.max + 1e-6:
            return False
        if self.step:
            k = (seconds - self.min) / self.step
            return abs(k - round(k)) < 1e-6
        return True

    def describe(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(f"{c:g}" for c in self.choices) + " s"
        step = f" in steps of {self.step:g}" if self.step else ""
        return f"{self.min:g}–{self.max:g} s{step}"


class Price(_Strict):
    """How a model is billed, with where the number came from and when it was seen."""

    unit: Literal["free", "per_second", "per_video", "per_megapixel_frame"]
    usd: float = Field(ge=0, description="Price per unit; for per_video, the base price.")
    #: Overrides by resolution name (e.g. {"1080p": 0.49}); same unit.
    by_resolution: dict[str, float] = Field(default_factory=dict)
    #: Overrides by duration for per_video prices (e.g. {"10": 0.56}).
    by_duration: dict[str, float] = Field(default_factory=dict)
    #: Extra per-second price when audio is generated.
    audio_usd: float = 0.0
    #: The provider's minimum charge per job, when it has one.
    min_usd: float = 0.0
    source: str
    as_of: date
    estimate: bool = Field(default=False, description="True when the figure is unverified or derived.")


class Capabilities(_Strict):
    inputs: list[InputKind]
    durations: DurationRule
    aspect_ratios: list[str]
    resolutions: list[str]
    fps: list[int]
    audio: bool = False
    seed: bool = False
    negative_prompt: bool = False
    loop: LoopMode = "none"
    extend: ExtendMode = "last_frame"
    #: What a native extend returns: only the new part (joined to the source here), the whole
    #: extended video (Veo, Sora extensions), used as it is, or `measured` where the provider does not
    #: say which (Kling video-extend): the result longer than the source by over a second is the whole.
    extend_output: Literal["continuation", "full", "measured"] = "continuation"
    camera_moves: list[str] = Field(default_factory=list)
    max_prompt_chars: int = 2000
    #: True when a prompt is required even with an image input.
    prompt_required: bool = True


class ModelEntry(_Strict):
    provider: str
    id: str
    title: str
    description: str = ""
    status: ModelStatus = "ga"
    replacement: str | None = None
    #: The provider's own name for the model on the wire when it differs from `id`.
    wire_id: str | None = None
    capabilities: Capabilities
    price: Price
    #: Typical wall time for a default request, seconds; used for honest ETAs.
    typical_seconds: float = 60.0
    #: reelforge's quality tier, 1 (sketch) to 5 (flagship), for route='best': a judgment from public
    #: comparisons at the row's date, not a benchmark. None counts as 3.
    quality: int | None = Field(default=None, ge=1, le=5)
    #: The longest a job of this model is polled before reelforge gives up on it, seconds (new models
    #: take minutes: Seedance 2.5 30 s clips took 275-479 s). None: REELFORGE_MAX_POLL_SECONDS.
    max_poll_seconds: float | None = Field(default=None, gt=0)
    #: The pace this model's status is read at, seconds between reads once it runs (kept within the
    #: settings' shortest and longest pause). None: the settings' pace.
    poll_interval_s: float | None = Field(default=None, gt=0)
    #: New jobs the provider accepts per minute for this model on one account. With the server's own
    #: key set it is the durable engine's default limit for the model, shared by every process (an
    #: operator's REELFORGE_RATE_LIMITS entry for the provider or the model replaces it).
    requests_per_minute: int | None = Field(default=None, ge=1)
    #: Provider-specific facts the adapter needs (endpoint, version hash, field names): an instance
    #: of the provider's own pydantic model, validated when the catalog loads; None when it has none.
    facts: SerializeAsAny[BaseModel] | None = None

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.id}"

    @property
    def remote_name(self) -> str:
        return self.wire_id or self.id


class FailedNotCharged(_Strict):
    """A provider's own documentation that a task it accepted and then failed is not charged (credits
    refunded), for these failure codes. It is what lets a job fall back to its next provider after the
    provider accepted it; a provider without it (it charges for failures, or says nothing) never does."""

    #: The provider's failure-code families documented as not charged, matched as a whole code or a
    #: dotted prefix ("INTERNAL" covers "INTERNAL.BAD_OUTPUT.CODE01", not "INTERNALS"); "*": every failure.
    codes: list[str] = Field(min_length=1)
    #: Codes the same documentation names as charged, listed so the row says what is left out and why.
    charged_codes: list[str] = Field(default_factory=list)
    source: str
    as_of: date

    def covers(self, code: str | None) -> bool:
        """Whether a failure with this code is documented as not charged (a failure without a code is
        covered only by "*": reading no code as a refundable one would be a guess)."""
        if "*" in self.codes:
            return True
        if not code or any(code == c or code.startswith(c + ".") for c in self.charged_codes):
            return False
        return any(code == c or code.startswith(c + ".") for c in self.codes)


class ProviderEntry(_Strict):
    name: str
    title: str
    description: str
    homepage: str | None = None
    #: True for in-process renderers (free, no key); from the provider's declaration.
    local: bool = False
    #: Which failures after acceptance the provider documents as not charged; None: it charges for
    #: them or says nothing (a job it accepted never falls back).
    failed_not_charged: FailedNotCharged | None = None
    models: list[ModelEntry]

    @model_validator(mode="after")
    def _models_belong(self) -> ProviderEntry:
        for m in self.models:
            if m.provider != self.name:
                raise ValueError(f"model {m.id} names provider {m.provider}, file is {self.name}")
        return self


class Catalog(_Strict):
    providers: dict[str, ProviderEntry]

    def models(self) -> list[ModelEntry]:
        return [m for p in self.providers.values() for m in p.models]

    def find(self, provider: str, model: str) -> ModelEntry | None:
        p = self.providers.get(provider)
        if p is None:
            return None
        return next((m for m in p.models if m.id == model or m.wire_id == model), None)

