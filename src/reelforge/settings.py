"""Settings: one pydantic-settings class, prefix `REELFORGE_`, provider keys under their own names.

Every field is documented here and listed in the README (`reelforge doctor` prints the values in
effect, with keys shown only as present or absent).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated


def _default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("reelforge", appauthor=False))


def _split_paths(value: object) -> object:
    if isinstance(value, str):
        import os

        return [p for p in value.split(os.pathsep) if p.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REELFORGE_", extra="ignore", populate_by_name=True)

    home: Path = Field(default_factory=_default_home, description="Data directory (ledger, outputs, cache).")
    outputs_dir: Path | None = Field(default=None, description="Where finished videos go (default: HOME/outputs).")
    ledger_path: Path | None = Field(default=None, description="SQLite ledger file (default: HOME/ledger.sqlite3).")
    database_url: SecretStr | None = Field(
        default=None,  # secret: the URL usually holds the database password
        description="Where the job ledger lives when not in the SQLite file: postgresql://user:password@host:port/db "
        "for a PostgreSQL database shared by several processes (sqlite:///path also works). Unset: LEDGER_PATH.",
    )
    wait_seconds: float = Field(
        default=40.0, ge=0, le=300,
        description="How long a work-starting tool waits before returning a job handle (hosts give up near 60 s).",
    )
    allowed_input_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Directories local input files may come from (os.pathsep-separated). "
        "The outputs directory is always allowed (and, for the command line, the working directory).",
    )
    allow_private_urls: bool = Field(
        default=False, description="Allow URL inputs on loopback/private addresses (tests, local setups only)."
    )
    max_cost_per_call_usd: float | None = Field(default=None, ge=0, description="Refuse any single job quoted above this.")
    max_cost_per_day_usd: float | None = Field(default=None, ge=0, description="Refuse jobs that would exceed this spend per UTC day.")
    confirm_above_usd: float = Field(
        default=1.0, ge=0, description="Jobs quoted above this need the user's confirmation (elicitation or confirm=true)."
    )
    default_provider: str | None = Field(default=None, description="Provider used when a request says 'auto'.")
    poll_min_interval_s: float = Field(default=2.0, ge=0.01, description="Shortest pause between status reads.")
    poll_max_interval_s: float = Field(default=15.0, ge=0.05, description="Longest pause between status reads.")
    max_poll_seconds: float = Field(default=3600.0, ge=1, description="Give up polling a remote job after this long.")
    job_lease_s: float = Field(
        default=30.0, ge=0.5, le=3600,
        description="Lease a server holds on each job it drives, renewed every third of it; a job whose server "
        "died is taken over by another live server on the same ledger within about 4/3 of this.",
    )
    download_max_mb: int = Field(default=1024, ge=1, description="Largest output file accepted from a provider.")
    download_deadline_s: float | None = Field(
        default=None, gt=0,
        description="Total time one output download may take, retries included (default: 120 s + 1 s per MB of the size limit).",
    )
    download_min_rate_kbps: float = Field(
        default=100.0, gt=0, description="Slowest download accepted, in kB/s averaged over 20 s (a trickling link is dropped).",
    )
    http_token: SecretStr | None = Field(default=None, description="Bearer token required by the HTTP transport.")

    # Provider keys, read from each provider's official variable (no prefix).
    runway_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("RUNWAYML_API_SECRET"))
    luma_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("LUMAAI_API_KEY"))
    luma_agents_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("LUMA_AGENTS_API_KEY"))
    minimax_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("MINIMAX_API_KEY"))
    replicate_api_token: SecretStr | None = Field(default=None, validation_alias=AliasChoices("REPLICATE_API_TOKEN"))

    # Provider endpoints: overridable so tests can point adapters at loopback emulators.
    runway_base_url: str = Field(default="https://api.dev.runwayml.com", validation_alias=AliasChoices("RUNWAYML_BASE_URL"))
    luma_base_url: str = Field(
        default="https://api.lumalabs.ai/dream-machine/v1", validation_alias=AliasChoices("LUMAAI_BASE_URL")
    )
    luma_agents_base_url: str = Field(
        default="https://agents.lumalabs.ai/v1", validation_alias=AliasChoices("LUMA_AGENTS_BASE_URL")
    )
    minimax_base_url: str = Field(default="https://api.minimax.io", validation_alias=AliasChoices("MINIMAX_API_HOST"))
    replicate_base_url: str = Field(
        default="https://api.replicate.com", validation_alias=AliasChoices("REPLICATE_BASE_URL")
    )

    # Local GPU backend.
    local_models_dir: Path | None = Field(default=None, description="Where `reelforge models pull` puts weights (default: HF cache).")
    local_offload: str = Field(default="auto", description="Local GPU offload: auto, none, model, sequential.")
    local_device: str = Field(default="auto", description="Local backend device: auto, cuda, cuda:N, cpu.")
    local_dtype: str = Field(default="auto", description="Local weights dtype: auto (bf16 on GPU), bfloat16, float16, float32.")
    local_attention: str = Field(default="native", description="diffusers attention backend for local models (native = PyTorch SDPA).")
    local_cache: str = Field(
        default="auto", description="FirstBlockCache: auto (0.05 on non-distilled models), off, or a threshold such as 0.1."
    )
    local_compile: bool = Field(default=False, description="torch.compile the repeated transformer blocks (slow first run).")
    local_vae_tiling: str = Field(default="auto", description="VAE tiling: auto (at high resolution), on, off.")
    local_max_pixels: int | None = Field(default=None, description="Refuse local jobs above this many pixels per frame.")
    local_model_paths: dict[str, str] = Field(
        default_factory=dict, description="JSON map of local model id to a local weights folder or hub id."
    )

    @field_validator("allowed_input_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        return _split_paths(value)

    @cached_property
    def outputs(self) -> Path:
        return (self.outputs_dir or self.home / "outputs").expanduser().resolve()

    @cached_property
    def ledger(self) -> Path:
        return (self.ledger_path or self.home / "ledger.sqlite3").expanduser().resolve()

    @cached_property
    def cache_dir(self) -> Path:
        return (self.home / "cache").expanduser().resolve()

    def ensure_dirs(self) -> None:
        for d in (self.outputs, self.ledger.parent, self.cache_dir):
            d.mkdir(parents=True, exist_ok=True)

    def key_for(self, env_var: str) -> str | None:
        """The secret for a provider's official variable, or None."""
        field = {
            "RUNWAYML_API_SECRET": self.runway_api_key,
            "LUMAAI_API_KEY": self.luma_api_key,
            "LUMA_AGENTS_API_KEY": self.luma_agents_api_key,
            "MINIMAX_API_KEY": self.minimax_api_key,
            "REPLICATE_API_TOKEN": self.replicate_api_token,
        }.get(env_var)
        value = field.get_secret_value() if isinstance(field, SecretStr) else field  # model_copy may set a str
        if value:
            from reelforge.redact import remember_secret

            remember_secret(value)  # a provider echoing the key back never gets it into a message
        return value or None
