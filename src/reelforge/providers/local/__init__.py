"""The local GPU backend: open video models through diffusers, on this machine.

Importing this package is cheap and never imports torch, diffusers or transformers: the model
registry (`specs`), request planning (`plan`) and weight lookup (`store`) are pure python, and
the modules that need torch (`loading`, `runner`, `execute`) are imported inside the GPU worker
thread on its first job. See docs/local-gpu.md.
"""

from __future__ import annotations

from reelforge.providers.declaration import Declaration
from reelforge.providers.local.facts import LocalFacts

DECLARATION = Declaration(
    name="local",
    title="Local GPU (diffusers)",
    adapter="reelforge.providers.local.provider:LocalDiffusersProvider",
    facts=LocalFacts,
    local=True,  # never picked by 'auto': a GPU render is asked for by name
)
