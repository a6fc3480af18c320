"""Content-addressed cache of rendered pieces (video segments, timeline audio).

A piece's key is the hash of the exact ffmpeg arguments that make it, with every input file
path replaced by that file's content fingerprint, plus the ffmpeg binary. Fonts, title text and
subtitle files are already stashed under content-hash names, so their contents are in the key
too. Re-rendering an edited timeline therefore re-encodes only the pieces whose inputs or
settings changed; everything else is reused as is.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path

from reelforge.media.ffmpeg import ffmpeg_exe

logger = logging.getLogger(__name__)

#: Bump when the meaning of the arguments changes in a way the argv itself does not show.
_CACHE_VERSION = "timeline-cache-1"


def piece_key(args: Sequence[str], fingerprints: Mapping[str, str]) -> str:
    """Cache key of the piece `args` would produce; input paths count by content, not name."""
    canonical = [f"file:{fingerprints[a]}" if a in fingerprints else a for a in args]
    blob = json.dumps([_CACHE_VERSION, ffmpeg_exe(), canonical], separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class PieceCache:
    """A directory of finished pieces named by key; writes are atomic (by `run_ffmpeg`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str, suffix: str) -> Path:
        return self.root / f"{key[:40]}{suffix}"

    def has(self, key: str, suffix: str) -> bool:
        path = self.path_for(key, suffix)
        return path.is_file() and path.stat().st_size > 0

    async def get_or_make(self, key: str, suffix: str, make: Callable[[Path], Awaitable[object]]) -> tuple[Path, bool]:
        """(path, was_cached): reuse the piece for `key`, or call `make(path)` to render it."""
        path = self.path_for(key, suffix)
        if self.has(key, suffix):
            logger.debug("cache hit %s", path.name)
            path.touch()  # mtime is the last use: pruning removes the longest unused first
            return path, True
        await make(path)
        return path, False

    def prune(self, max_bytes: int) -> int:
        """Delete the least recently used pieces until the cache holds at most `max_bytes`.

        Returns the number of files removed. Pieces of the render that just finished are the
        most recently used, so they go last.
        """
        pieces = []
        for p in self.root.iterdir():
            if p.is_file() and not p.name.startswith(".partial-"):
                st = p.stat()
                pieces.append((st.st_mtime, st.st_size, p))
        total = sum(size for _, size, _ in pieces)
        removed = 0
        for _, size, p in sorted(pieces):
            if total <= max_bytes:
                break
            p.unlink(missing_ok=True)
            total -= size
            removed += 1
        if removed:
            logger.info("pruned %d cached pieces (cache now %.0f MB)", removed, total / 2**20)
        return removed
