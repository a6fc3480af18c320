"""Users and tiers for a shared HTTP service: who a bearer token is, and what that user may do.

A TOML file (`REELFORGE_TIERS_FILE`) names tiers and users:

    [tiers.free]
    providers = ["preview"]          # allowed providers (absent: all)
    max_duration_s = 5
    generations_per_day = 20
    video_seconds_per_day = 60
    spend_per_day_usd = 0

    [users.alice]
    tier = "free"
    token_sha256 = "…"               # `reelforge users token alice` prints a token and this line

    [users.alice.keys]               # the user's own provider keys, used before the server's
    RUNWAYML_API_SECRET = "fernet:…" # `reelforge users encrypt-key` makes the value

Tokens are stored only as SHA-256 digests and compared in constant time. Provider keys are stored
encrypted (Fernet, keyed by `REELFORGE_SECRET_KEY`), decrypted only when a job of that user is
planned or run, and registered for redaction so they never reach a message or a log. Every limit
is optional; a limit left out is no limit. Days are UTC days.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reelforge.errors import InvalidRequest, validation_text

ENCRYPTED_PREFIX = "fernet:"


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    providers: list[str] | None = Field(default=None, description="Allowed providers (absent: all).")
    models: list[str] | None = Field(default=None, description="Allowed 'provider/model' ids (absent: all).")
    max_duration_s: float | None = Field(default=None, gt=0)
    max_resolution: str | None = Field(default=None, description="e.g. '720p': no larger short edge.")
    generations_per_day: int | None = Field(default=None, ge=0)
    video_seconds_per_day: float | None = Field(default=None, ge=0)
    spend_per_day_usd: float | None = Field(default=None, ge=0)


class User(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tier: str
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    #: Provider variables (their official names) -> `fernet:` encrypted values.
    keys: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _keys_encrypted(self) -> User:
        plain = [name for name, value in self.keys.items() if not value.startswith(ENCRYPTED_PREFIX)]
        if plain:  # a key in clear text in a config file is refused, not used
            raise ValueError(f"keys {', '.join(plain)} are not encrypted (use `reelforge users encrypt-key`)")
        return self


class TiersConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tiers: dict[str, Tier]
    users: dict[str, User] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_tiers(self) -> TiersConfig:
        for name, user in self.users.items():
            if user.tier not in self.tiers:
                raise ValueError(f"user {name} names tier '{user.tier}', which is not defined")
        return self

    def user_for_token(self, token: str) -> str | None:
        """The user a bearer token belongs to, or None (every entry compared, in constant time)."""
        digest = token_digest(token)
        found = None
        for name, user in self.users.items():
            if hmac.compare_digest(digest, user.token_sha256):
                found = name
        return found

    def tier_of(self, user: str) -> Tier:
        entry = self.users.get(user)
        if entry is None:
            raise InvalidRequest(f"User '{user}' is not in the tiers file.")
        return self.tiers[entry.tier]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@lru_cache(maxsize=4)
def _load(path: Path, mtime_ns: int) -> TiersConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return TiersConfig.model_validate(data)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidRequest(f"The tiers file {path} cannot be read: {type(exc).__name__}: {exc}.") from None
    except ValidationError as exc:
        raise InvalidRequest(f"The tiers file {path} is invalid: {validation_text(exc)}.") from None


def load_tiers(path: Path) -> TiersConfig:
    """The tiers file, re-read when it changes (edits take effect without a restart)."""
    return _load(path, path.stat().st_mtime_ns if path.exists() else 0)


def _fernet(secret_key: str):
    from cryptography.fernet import Fernet  # only where per-user keys are used

    # Any passphrase works: it is stretched to Fernet's 32-byte key (SHA-256, base64url).
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest()))


def encrypt_key(value: str, secret_key: str) -> str:
    return ENCRYPTED_PREFIX + _fernet(secret_key).encrypt(value.encode()).decode()


def decrypt_keys(user: User, secret_key: str | None) -> dict[str, str]:
    """A user's provider keys in clear, for one job's adapter (registered for redaction by Settings)."""
    if not user.keys:
        return {}
    if not secret_key:
        raise InvalidRequest("This user has their own provider keys, but REELFORGE_SECRET_KEY is not set, so "
                             "they cannot be decrypted.", hint="Set REELFORGE_SECRET_KEY on the server.")
    from cryptography.fernet import InvalidToken

    fernet = _fernet(secret_key)
    out = {}
    for name, value in user.keys.items():
        try:
            out[name] = fernet.decrypt(value[len(ENCRYPTED_PREFIX):].encode()).decode()
        except InvalidToken:
            raise InvalidRequest(f"The stored {name} of this user cannot be decrypted with REELFORGE_SECRET_KEY "
                                 "(encrypted with another key?).") from None
    return out
