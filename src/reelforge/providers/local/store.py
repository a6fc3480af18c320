"""Where a local model's weights are, without importing torch, diffusers or huggingface_hub.

Lookup order for a model id:

1. `REELFORGE_LOCAL_MODEL_PATHS[id]`: a directory (used as is) or another hub id;
2. `<local_models_dir>/<id>` when `REELFORGE_LOCAL_MODELS_DIR` is set (where `models pull` writes);
3. the model's hub id in the standard Hugging Face cache (`HF_HUB_CACHE`, `HF_HOME/hub`, or
   `~/.cache/huggingface/hub`).

Loading always passes `local_files_only=True`; only `reelforge models pull` downloads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from reelforge.providers.local.options import LocalOptions
from reelforge.providers.local.specs import ModelSpec


@dataclass(frozen=True)
class ModelSource:
    """What to hand to `from_pretrained` and where the files are (None when not present)."""

    ref: str
    path: Path | None

    @property
    def present(self) -> bool:
        return self.path is not None


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache directory as huggingface_hub computes it."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface"
    )
    return Path(home).expanduser() / "hub"


def cached_snapshot(repo_id: str, cache: Path | None = None) -> Path | None:
    """The snapshot directory `refs/main` points at, if it holds a pipeline (model_index.json)."""
    root = (cache or hf_hub_cache()) / ("models--" + repo_id.replace("/", "--"))
    try:
        revision = (root / "refs" / "main").read_text().strip()
    except OSError:
        return None
    snapshot = root / "snapshots" / revision
    return snapshot if (snapshot / "model_index.json").is_file() else None


def _is_pipeline_dir(path: Path) -> bool:
    return (path / "model_index.json").is_file()


def locate(spec: ModelSpec, options: LocalOptions) -> ModelSource:
    """Resolve a model to a from_pretrained reference and its files on disk."""
    override = options.model_paths.get(spec.id)
    if override:
        path = Path(override).expanduser()
        if path.is_absolute() or path.exists():
            return ModelSource(str(path), path if _is_pipeline_dir(path) else None)
        return ModelSource(override, cached_snapshot(override))  # another hub id
    if options.models_dir is not None:
        pulled = Path(options.models_dir).expanduser() / spec.id
        if _is_pipeline_dir(pulled):
            return ModelSource(str(pulled), pulled)
    return ModelSource(spec.hf_repo, cached_snapshot(spec.hf_repo))


def pull_target(spec: ModelSpec, options: LocalOptions) -> Path | None:
    """Where `models pull` writes: `<models_dir>/<id>`, or None for the Hugging Face cache."""
    if options.models_dir is None:
        return None
    return Path(options.models_dir).expanduser() / spec.id
