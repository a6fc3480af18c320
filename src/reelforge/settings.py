"""Settings: one pydantic-settings class, prefix `REELFORGE_`, provider keys under their own names.

Every field is documented here and listed in the README (`reelforge doctor` prints the values in
effect, with keys shown only as present or absent).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated


def _default_home() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("reelforge", appauthor=False))


def _split_paths(value: object) -> object:
    if isinstance(value, str):
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
    route: Literal["preference", "cheapest", "fastest", "best", "local_first"] = Field(
        default="preference", description="How 'auto' picks a model: preference (the default provider, else the first "
        "with a key, in the declared order), cheapest, fastest (measured p50), best (catalog quality tier), local_first.")
    health_cooldown_s: float = Field(
        default=600.0, ge=0, description="'auto' skips a provider whose last 3 jobs failed on its side for this long.")
    poll_min_interval_s: float = Field(default=2.0, ge=0.01, description="Shortest pause between status reads.")
    poll_max_interval_s: float = Field(default=15.0, ge=0.05, description="Longest pause between status reads.")
    max_poll_seconds: float = Field(default=3600.0, ge=1, description="Give up polling a remote job after this long.")
    job_lease_s: float = Field(
        default=30.0, ge=0.5, le=3600,
        description="Lease a server holds on each job it drives, renewed every third of it; a job whose server "
        "died is taken over by another live server on the same ledger within about 4/3 of this.",
    )
    engine: str = Field(
        default="dbos", description="What runs jobs: dbos (durable workflows on DBOS Transact: queues, shared rate "
        "limits, one GPU render per worker) or none (only the ledger's leases; a diagnostic fallback).")
    engine_url: SecretStr | None = Field(
        default=None, description="The engine's own database (DBOS system tables): sqlite:///path or postgresql://… "
        "(default: the PostgreSQL database of DATABASE_URL, else HOME/engine.sqlite).")
    queues: str = Field(
        default="all", description="Engine queues this process runs, comma-separated: gpu (local GPU renders), "
        "remote (provider jobs), media (previews, extend, loop, compose); all; or none (only enqueues).")
    queue_poll_s: float = Field(
        default=1.0, ge=0.01, le=60, description="How often a process checks a queue for work (a queued job waits about this long).")
    rate_limits: str = Field(
        default="", description="Provider (or provider/model) jobs started per period, shared by every process on the "
        "database, e.g. 'runway=5/60,veo/veo-3.1-generate-preview=8/60' (at most 5 Runway jobs per 60 s). A model "
        "with a published per-model limit (Veo) is held to it by default when the server's key is set.")
    engine_retention_days: float = Field(
        default=7.0, gt=0, description="Engine records of finished jobs are deleted after this many days (the ledger keeps the jobs).")
    download_max_mb: int = Field(default=1024, ge=1, description="Largest output file accepted from a provider.")
    download_deadline_s: float | None = Field(
        default=None, gt=0,
        description="Total time one output download may take, retries included (default: 120 s + 1 s per MB of the size limit).",
    )
    download_min_rate_kbps: float = Field(
        default=100.0, gt=0, description="Slowest download accepted, in kB/s averaged over 20 s (a trickling link is dropped).",
    )
    http_token: SecretStr | None = Field(default=None, description="Bearer token required by the HTTP transport.")
    tiers_file: Path | None = Field(
        default=None, description="TOML file of tiers and users for a shared HTTP service: each user's token (as "
        "a SHA-256 digest), tier limits, and own provider keys (encrypted). Unset: one token, no tiers.")
    secret_key: SecretStr | None = Field(
        default=None, description="Passphrase that encrypts users' own provider keys in the tiers file.")

    # Provider variables (keys, credential files, base URLs) are declared by each provider package
    # under the provider's own official name; this bottom layer cannot import those packages, so it
    # reads them by name when asked (`provider_value`), and tests pass explicit values here.
    provider_env: dict[str, SecretStr] = Field(
        default_factory=dict, exclude=True,
        description="Explicit values for provider variables, over the environment (tests, embedding).",
    )

    # Local GPU backend.
    local_models_dir: Path | None = Field(default=None, description="Where `reelforge models pull` puts weights (default: HF cache).")
    # The switches below are checked when a local job plans (an InvalidRequest naming the variable),
    # not at start: a typo in a GPU knob must not stop a server that only uses cloud providers.
    local_offload: str = Field(default="auto", description="Local GPU offload: auto, none, model, sequential.")
    local_device: str = Field(default="auto", description="Local backend device: auto, cuda, cuda:N, cpu.")
    local_dtype: str = Field(default="auto", description="Local weights dtype: auto (bf16 on GPU), bfloat16, float16, float32.")
    local_attention: str = Field(default="native", description="diffusers attention backend for local models (native = PyTorch SDPA).")
    local_cache: str = Field(
        default="auto", description="FirstBlockCache: auto (0.05 on non-distilled models), off, or a threshold such as 0.1."
    )
    local_compile: bool = Field(default=False, description="torch.compile the repeated transformer blocks (slow first run).")
    local_vae_tiling: str = Field(default="auto", description="VAE tiling: auto (at high resolution), on, off.")
    local_max_pixels: str = Field(default="", description="Refuse local jobs above this many pixels per frame (empty: the model's own size).")
    local_model_paths: str = Field(
        default="", description='JSON map of local model id to a local weights folder or hub id, e.g. {"ltx-video-0.9.8-distilled": "/models/ltx"}.'
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

    @cached_property
    def characters_dir(self) -> Path:
        """Saved characters (`studio/characters.py`): copies of their reference images, one folder each."""
        return (self.home / "characters").expanduser().resolve()

    def ensure_dirs(self) -> None:
        for d in (self.outputs, self.ledger.parent, self.cache_dir):
            d.mkdir(parents=True, exist_ok=True)

    def provider_value(self, name: str) -> str | None:
        """A provider variable's value (explicit `provider_env` first, then the environment), or None."""
        explicit = self.provider_env.get(name)
        if explicit is not None:
            value = explicit.get_secret_value() if isinstance(explicit, SecretStr) else str(explicit)
        else:
            value = os.environ.get(name)
        return value or None

    def key_for(self, env_var: str) -> str | None:
        """A provider secret (key, token, secret half of a key pair) by its official variable, or None."""
        value = self.provider_value(env_var)
        if value:
            from reelforge.redact import remember_secret

            remember_secret(value)  # a provider echoing the key back never gets it into a message
        return value

    def with_provider_env(self, **values: str) -> Settings:
        """A copy with these provider variables set explicitly (an empty string unsets one)."""
        merged = {**self.provider_env, **{name: SecretStr(value) for name, value in values.items()}}
        return self.model_copy(update={"provider_env": merged})
