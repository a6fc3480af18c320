"""`reelforge models pull NAME`: the one place the local backend touches the network.

Downloads a model's diffusers-format repository with `huggingface_hub.snapshot_download`, into
the Hugging Face cache (default) or `<REELFORGE_LOCAL_MODELS_DIR>/<name>`, exactly where loading
looks for it with `local_files_only=True`. Gated repositories read the token the usual way
(`HF_TOKEN` or `hf auth login`); it is never logged. Run it from a terminal, not from the MCP
server: tool calls never download.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reelforge.errors import InvalidRequest, LocalBackendUnavailable
from reelforge.providers.local.options import LocalOptions
from reelforge.providers.local.specs import MODELS, get_spec
from reelforge.providers.local.store import hf_hub_cache, pull_target

if TYPE_CHECKING:
    from reelforge.settings import Settings

log = logging.getLogger(__name__)

#: progress(files done, files total, message)
PullProgress = Callable[[int, int, str], None]
#: Weights and configs only: no sample videos, no original (non-diffusers) checkpoints.
#: Components live in subfolders; top-level *.safetensors are single-file checkpoints for other tools.
ALLOW_PATTERNS = ["model_index.json", "*/*.json", "*/*.safetensors", "*/*.txt", "*/*.model"]


def download_model(name: str, progress: PullProgress | None = None, settings: Settings | None = None) -> Path:
    """Download model `name` (a local catalog id) and return the directory that holds it."""
    try:
        spec = get_spec(name)
    except KeyError:
        raise InvalidRequest(f"Unknown local model '{name}'; pull one of: {', '.join(sorted(MODELS))}.",
                             param="name") from None
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise LocalBackendUnavailable("Downloading needs huggingface_hub.",
                                      hint="pip install 'reelforge[local]'") from None
    target = pull_target(spec, LocalOptions.from_settings(settings))
    kwargs: dict[str, Any] = {"allow_patterns": ALLOW_PATTERNS}
    if target is not None:
        kwargs["local_dir"] = str(target)
    else:  # the cache `store.locate` reads, even if HF_HUB_CACHE changed after import
        kwargs["cache_dir"] = str(hf_hub_cache())
    if progress is not None:
        kwargs["tqdm_class"] = _progress_bar_class(progress, spec.hf_repo)
    log.info("pulling %s from %s into %s", name, spec.hf_repo, target or "the Hugging Face cache")
    path = snapshot_download(spec.hf_repo, **kwargs)
    return Path(path)


def pull_model(name: str, progress: PullProgress | None = None) -> int:
    """CLI entry: download with progress on stderr; returns a process exit code."""
    from reelforge.errors import ReelforgeError

    try:
        path = download_model(name, progress or _print_progress)
    except ReelforgeError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except OSError as exc:  # network, disk full, gated repository without a token
        sys.stderr.write(f"error: download of {name} failed ({exc.__class__.__name__}: {exc})\n")
        return 1
    sys.stderr.write(f"{name}: ready in {path}\n")
    return 0


def _print_progress(done: int, total: int, message: str) -> None:
    sys.stderr.write(f"\r{message}: {done}/{total} files" + ("" if done < total else "\n"))
    sys.stderr.flush()


def _progress_bar_class(progress: PullProgress, repo: str) -> type:
    """A tqdm subclass that forwards snapshot_download's file counter to `progress`."""
    from tqdm.auto import tqdm

    class _Forward(tqdm):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True  # no terminal bar of its own; `progress` reports instead
            super().__init__(*args, **kwargs)
            self.done = 0  # a disabled tqdm stops counting, so count here

        def update(self, n: float | None = 1) -> bool | None:
            self.done += int(n or 0)
            progress(self.done, int(self.total or 0), f"pulling {repo}")
            return None

    return _Forward
