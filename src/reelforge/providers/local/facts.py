"""Catalog facts of a local model; `specs.MODELS` holds the runtime spec, and a test keeps both in step."""

from __future__ import annotations

from reelforge.providers.declaration import Facts


class LocalFacts(Facts):
    hf_repo: str
    #: The diffusers pipeline class (or classes) that render it.
    pipeline: str
    #: Frame counts it takes ("8k+1", "4k+1").
    frames_rule: str
    #: Width and height must be multiples of this.
    dims_multiple: int
    #: Extra options a caller may pass.
    extra: list[str] = []
