"""Helpers for adapter tests: catalog-default specs, a fast submit-poll-download driver, file probing.

They drive the real adapter against a loopback emulator; nothing of ours is mocked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import av
from client_utils import make_client, settle, start_job  # noqa: F401  (re-exported: the provider MCP tests import them from here)

from reelforge.catalog import RESOLUTION_SHORT_EDGE, ModelEntry
from reelforge.providers.base import RemoteProvider, RemoteStatus
from reelforge.providers.registry import load_catalog
from reelforge.generation_spec import GenerationSpec, MediaRef, size_for
from reelforge.settings import Settings


def model_entry(provider: str, model: str) -> ModelEntry:
    entry = load_catalog().find(provider, model)
    assert entry is not None, f"{provider}/{model} missing from the catalog"
    return entry


def make_spec(provider: str, model: str, **fields: Any) -> GenerationSpec:
    """A catalog-default spec for a model, with `fields` overriding (what the studio would build)."""
    caps = model_entry(provider, model).capabilities
    aspect = fields.pop("aspect_ratio", caps.aspect_ratios[0])
    resolution = fields.pop("resolution", caps.resolutions[0])
    width, height = size_for(aspect, RESOLUTION_SHORT_EDGE.get(resolution, 720))
    base: dict[str, Any] = {
        "provider": provider, "model": model, "prompt": "a red kite over a beach", "aspect_ratio": aspect,
        "resolution": resolution, "width": width, "height": height, "fps": caps.fps[0],
        "duration_s": caps.durations.default,
    }  # fmt: skip
    base.update(fields)
    return GenerationSpec(**base)


def file_ref(path: Path, mime: str = "image/png") -> MediaRef:
    return MediaRef(kind="file", path=str(path), mime=mime)


def adapter_settings(tmp_path: Path, **provider_env: str) -> Settings:
    """Isolated settings with fast polling; provider variables (keys, base URLs) by their official names."""
    return Settings(
        home=tmp_path / "home", allowed_input_roots=[tmp_path], poll_min_interval_s=0.01, poll_max_interval_s=0.05,
    ).with_provider_env(**provider_env)  # fmt: skip


async def run_remote(provider: RemoteProvider, spec: GenerationSpec, dest: Path) -> tuple[str, list[RemoteStatus]]:
    """Submit, poll until terminal (fast), download when it succeeded; return the id and every status seen."""
    model = model_entry(spec.provider, spec.model)
    remote_id = await provider.submit(spec, model)
    seen = await poll_to_end(provider, remote_id, model)
    if seen[-1].state.value == "succeeded":
        await provider.download(seen[-1], model, dest)
    return remote_id, seen


async def poll_to_end(provider: RemoteProvider, remote_id: str, model: ModelEntry, limit: int = 50) -> list[RemoteStatus]:
    seen: list[RemoteStatus] = []
    for _ in range(limit):
        seen.append(await provider.poll(remote_id, model))
        if seen[-1].state.terminal:
            return seen
        await anyio.sleep(0.005)
    raise AssertionError(f"job {remote_id} did not finish in {limit} polls: {seen[-1]}")


def probe(path: Path) -> dict[str, Any]:
    """What the file really is: codec, decoded frame count, duration, size."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return {
            "codec": stream.codec_context.name, "frames": frames, "width": stream.codec_context.width,
            "height": stream.codec_context.height, "seconds": float(container.duration or 0) / 1e6,
        }  # fmt: skip


# --- through an official SDK ------------------------------------------------------------------------


def sdk_until(read: Any, remote_id: str, done: tuple[str, ...], attr: str = "status", limit: int = 10) -> Any:
    """Read a job through an official SDK until its `attr` is one of `done` (bounded)."""
    for _ in range(limit):
        job = read(remote_id)
        if getattr(job, attr) in done:
            return job
    raise AssertionError(f"{remote_id} never reached {done}")


#: Create faults every provider must end in a definite state: a refusal `failed` (nothing billed), a
#: 5xx or a dropped answer `unknown` (maybe billed: never resent). Providers add their own shapes.
COMMON_CREATE_FAULTS = [
    ({"status": 401}, "failed", "auth_failed"),
    ({"status": 429, "retry_after": 90}, "failed", "rate_limited"),
    ({"status": 500}, "unknown", "outcome_unknown"),
    ({"drop": True, "process": True}, "unknown", "outcome_unknown"),
]


async def job_after_create_fault(settings: Settings, emu: Any, request: dict[str, Any], fault: dict[str, Any]) -> dict[str, Any]:
    """One generate_video through the MCP tools with `fault` injected on its create: the settled job,
    after checking that exactly one create was sent (a fault never makes us send it again)."""
    emu.inject("create", **fault)
    async with make_client(settings) as client:
        job = await settle(client, await start_job(client, "generate_video", request))
    assert emu.count("create") == 1, job
    return job

