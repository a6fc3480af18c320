"""Fixtures for the local GPU backend tests: tiny pipelines on disk, offline, network blocked.

The tiny pipelines are built once per test session (about a second) and saved the two ways users
have weights: LTX in a fake Hugging Face hub cache under its real repo id (loaded by hub id with
HF_HUB_OFFLINE=1), the Wan models as plain diffusers directories named in
REELFORGE_LOCAL_MODEL_PATHS. Every load therefore goes through the provider's real
`from_pretrained(..., local_files_only=True)` path.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))  # tiny_pipelines, also used by the benchmark

from provider_utils import installed  # noqa: E402

if not installed("local"):  # the local package was deleted: every test here skips at its own import
    collect_ignore_glob = ["*.py"]
else:
    from reelforge.providers.local.specs import MODELS

LTX = "ltx-video-0.9.8-distilled"
WAN_T2V = "wan2.2-t2v-a14b"
WAN_I2V = "wan2.2-i2v-a14b"
TI2V = "wan2.2-ti2v-5b"
WAN_DIRS = (WAN_T2V, WAN_I2V, TI2V)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Build and save the tiny pipelines once; returns {"hf_cache": dir, model id: dir}."""
    pytest.importorskip("diffusers", reason="the [local] extra (torch, diffusers, transformers) is not installed")
    import tiny_pipelines
    import torch

    # One intra-op thread: the tiny models gain nothing from more, and on a shared 2-core CI
    # machine two threads per process made each call 10x slower through oversubscription.
    torch.set_num_threads(1)

    root = tmp_path_factory.mktemp("tiny-models")
    cache = root / "hf-cache"
    tiny_pipelines.save_into_hf_cache(LTX, MODELS[LTX].hf_repo, cache)
    paths: dict[str, Path] = {"hf_cache": cache}
    for model_id in WAN_DIRS:
        paths[model_id] = tiny_pipelines.save_tiny(model_id, root / model_id)
    return paths


@pytest.fixture
def local_env(settings, tiny_models: dict[str, Path], monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """Settings plus the environment a user with pulled weights has, offline, tiny frame area."""
    import json

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tiny_models["hf_cache"]))
    _block_internet(monkeypatch)
    # Settings is the backend's one source for its switches (REELFORGE_LOCAL_* read through it).
    # Every request is scaled down to 32x32-class frames: the tiny models run in milliseconds there.
    return settings.model_copy(update={
        "local_model_paths": json.dumps({m: str(tiny_models[m]) for m in WAN_DIRS}),
        "local_device": "cpu", "local_max_pixels": "1024",
    })


def _block_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any TCP connection off this machine fails the test: loading must be offline."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: object) -> object:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0] if isinstance(address, tuple) else str(address)
            if host not in ("127.0.0.1", "::1", "localhost"):
                raise RuntimeError(f"network access attempted in a local GPU test: {host}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
