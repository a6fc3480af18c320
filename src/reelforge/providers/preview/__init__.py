"""The free, offline `preview` renderer (CPU animatics). Declaration only: import-light."""

from __future__ import annotations

from reelforge.providers.declaration import Declaration

DECLARATION = Declaration(
    name="preview",
    title="Preview (offline animatic)",
    adapter="reelforge.providers.preview.adapter:PreviewProvider",
    # Keyless and last: chosen by 'auto' when no keyed provider is ready.
    auto_rank=1000,
    local=True,
)
