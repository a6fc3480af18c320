"""Stability's Stable Video Diffusion API ceased on 2025-07-24. Its catalog rows are `retired` with a
replacement on Replicate, so planning redirects every request (and says so) before an adapter is
used; this one exists only to refuse, should anything reach it. It sends nothing: the base's wire
hooks are never reached, since `normalize` runs first and refuses."""

from __future__ import annotations

from typing import Any, NoReturn

from reelforge.catalog import ModelEntry
from reelforge.errors import ModelRetired
from reelforge.generation_spec import GenerationSpec
from reelforge.providers.base import RemoteProvider, RemoteState, RemoteStatus
from reelforge.providers.stability import DECLARATION


def _retired(what: str = "stability") -> NoReturn:
    raise ModelRetired(f"{what}: Stability's video API was retired on 2025-07-24.", param="model",
                       hint="Use replicate/stable-video-diffusion (the same model) or the local backend.")


class StabilityProvider(RemoteProvider):
    declaration = DECLARATION

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        _retired(model.key)

    # Every wire hook refuses the same way: there is no API left to speak to.
    async def _create_request(self, spec: GenerationSpec, model: ModelEntry) -> str:
        _retired(model.key)

    async def _read_job(self, remote_id: str, model: ModelEntry) -> Any:
        _retired(model.key)

    def _status_word(self, job: Any) -> str:
        _retired()

    async def _parse_status(self, job: Any, state: RemoteState, remote_id: str, model: ModelEntry) -> RemoteStatus:
        _retired(model.key)
