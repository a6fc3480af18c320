"""What a provider package declares about itself, as data: the one thing the rest of reelforge reads.

Each package under `reelforge/providers/` that has a `DECLARATION` in its `__init__` is a provider.
From these declarations come: the registry (adapter class, discovered, imported lazily), the
catalog (the package's `catalog.json`, its per-model facts validated by `facts`), the settings a
provider reads (`Settings.provider_value`), `reelforge doctor`'s key report, the 'auto' routing
order, `server.json` and the README's variable table (both checked by a test), and the test
environment scrubbing. Adding a provider therefore touches nothing outside its package.

This module must stay import-light: the registry imports every provider's `__init__` (and so this
file) at server start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

F = TypeVar("F", bound="Facts")

#: key: an API key or token; secret: the secret half of a key pair (Kling's access key + secret
#: key); file: a path to a credentials file (a Vertex service-account JSON); url: a base URL that
#: tests and regional accounts override.
VariableKind = Literal["key", "secret", "file", "url"]


@dataclass(frozen=True)
class Variable:
    """One environment variable a provider reads, under the provider's own official name."""

    name: str
    kind: VariableKind
    description: str
    #: A required variable must be set before any request is sent (MissingCredentials otherwise).
    required: bool = True
    #: The value used when the variable is unset (base URLs).
    default: str | None = None
    #: Another official name for the same value, read when this one is unset (Google's GOOGLE_API_KEY
    #: for GEMINI_API_KEY): either one satisfies a required variable.
    alternative: str | None = None

    @property
    def secret(self) -> bool:
        """Whether the value is a secret (redacted everywhere, marked isSecret in server.json)."""
        return self.kind in ("key", "secret")


@dataclass(frozen=True)
class Declaration:
    """A provider package's identity card."""

    name: str
    title: str
    #: "module:Class" of the adapter, imported only when the provider is first used.
    adapter: str
    variables: tuple[Variable, ...] = ()
    #: The pydantic model of this provider's per-model facts (`ModelEntry.facts`), or None.
    facts: type[BaseModel] | None = None
    #: Place in the 'auto' routing order (lower first); None: chosen only when asked for by name.
    #: Keyed providers are picked only when their credentials are set; the highest-ranked keyless
    #: provider is also the last resort.
    auto_rank: int | None = None
    #: True for in-process renderers (`LocalProvider`): free, re-rendered after a restart.
    local: bool = False

    @property
    def credentials(self) -> tuple[Variable, ...]:
        """The variables that hold credentials (keys, secrets, credential files)."""
        return tuple(v for v in self.variables if v.kind != "url")

    @property
    def required(self) -> tuple[Variable, ...]:
        return tuple(v for v in self.credentials if v.required)

    def variable(self, name: str) -> Variable:
        for var in self.variables:
            if var.name == name:
                return var
        raise KeyError(f"{self.name} declares no variable {name}")


class Facts(BaseModel):
    """Base of every provider's per-model facts: strict, so a typo in a catalog file fails the load."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The `options` key this provider's adapter reads reference images from; a saved character's
    #: images are put there (`studio/characters.py`), so the studio never names a provider.
    reference_option: ClassVar[str] = "reference_images"

    def reference_limit(self) -> int:
        """Most reference images one request to this model may carry (0: none). A provider whose
        models take them overrides it; a catalog test keeps it in step with the `reference` input kind."""
        return 0


def facts_of(model: object, kind: type[F]) -> F:
    """A model entry's facts as the adapter's own type (the loader validated them with it)."""
    facts = getattr(model, "facts", None)
    if not isinstance(facts, kind):
        raise TypeError(f"{getattr(model, 'key', model)} has no {kind.__name__} facts (got {type(facts).__name__})")
    return facts
