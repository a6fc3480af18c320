"""`reelforge doctor`'s view of the local backend: extra installed?, GPU, VRAM, which weights are here.

Cheap by design: the GPU is read with `nvidia-smi` when it is on PATH (tens of milliseconds, no
CUDA context); torch is imported only when it is installed and nvidia-smi is not available, and
never when the `[local]` extra is absent. Weight presence is a file lookup (`store.locate`).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

from reelforge.providers.local.options import LocalOptions
from reelforge.providers.local.specs import MODELS
from reelforge.providers.local.store import locate

if TYPE_CHECKING:
    from reelforge.settings import Settings

EXTRA = ("torch", "diffusers", "transformers", "huggingface_hub", "accelerate")


def gpu_report(settings: Settings | None = None) -> dict[str, Any]:
    """Packages, GPUs and local model weights, as a JSON-able dict (`ok`: a local render can run)."""
    packages = {name: _version(name) for name in EXTRA}
    gpus = _nvidia_smi()
    if gpus is None:
        gpus = _torch_gpus() if packages["torch"] else []
    options = LocalOptions.from_settings(settings)
    models = {}
    for spec in MODELS.values():
        source = locate(spec, options)
        models[spec.id] = {
            "present": source.present,
            "source": source.ref,
            "needs_vram_gib": spec.vram_gib,
            "fits": any(g["total_gib"] >= spec.vram_offload_gib for g in gpus),
        }
    extra_ok = all(packages[name] for name in ("torch", "diffusers", "transformers"))
    return {
        "ok": extra_ok and bool(gpus) and any(m["present"] for m in models.values()),
        "packages": packages,
        "extra_installed": extra_ok,
        "cuda": bool(gpus),
        "gpus": gpus,
        "models": models,
    }


def _version(name: str) -> str | None:
    if importlib.util.find_spec(name) is None:
        return None
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _nvidia_smi() -> list[dict[str, Any]] | None:
    """GPUs from nvidia-smi, or None when it is not installed or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    gpus = []
    for line in out.strip().splitlines():
        name, total, free = (part.strip() for part in line.rsplit(",", 2))
        gpus.append({"name": name, "total_gib": round(float(total) / 1024, 1), "free_gib": round(float(free) / 1024, 1)})
    return gpus


def _torch_gpus() -> list[dict[str, Any]]:
    import torch

    gpus = []
    for index in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        free, total = torch.cuda.mem_get_info(index)
        gpus.append({"name": torch.cuda.get_device_name(index), "total_gib": round(total / 2**30, 1),
                     "free_gib": round(free / 2**30, 1)})
    return gpus
