"""The comparison sheet: posters side by side in a grid, each labelled under it.

A batch (an A/B of one prompt across providers, or many generations) ends with one image a person
can judge at a glance. Labels are `media.labels` strips (the same ones the batch reel burns in).
Posters are fitted into equal tiles (letterboxed, never stretched), so clips of different aspect
ratios still line up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from reelforge.errors import InvalidRequest, MediaError
from reelforge.media.labels import BACKGROUND, LABEL_COLOUR, PAD, label_strip, strip_height

__all__ = ["BACKGROUND", "LABEL_COLOUR", "Box", "SheetLayout", "Tile", "comparison_sheet"]

MAX_COLUMNS = 8


@dataclass(frozen=True)
class Tile:
    poster: Path
    label: list[str]  # one entry per line


@dataclass(frozen=True)
class Box:
    left: int
    top: int
    right: int
    bottom: int


@dataclass(frozen=True)
class SheetLayout:
    """Where each tile's poster and label went (callers point at them; tests probe them)."""

    path: Path
    width: int
    height: int
    posters: list[Box]
    labels: list[Box]


def _columns(count: int) -> int:
    return max(1, min(count, MAX_COLUMNS, math.ceil(math.sqrt(count * 1.5))))


def comparison_sheet(tiles: list[Tile], out: Path | str, *, tile_width: int = 320, font_px: int = 16) -> SheetLayout:
    """Draw `tiles` in a grid (posters fitted to tile_width × 9/16 of it) and save a JPEG at `out`."""
    from PIL import Image

    if not tiles:
        raise InvalidRequest("A comparison sheet needs at least one poster.")
    if tile_width < 64 or font_px < 8:
        raise InvalidRequest("comparison_sheet needs tile_width >= 64 and font_px >= 8.", param="tile_width")
    cols = _columns(len(tiles))
    rows = math.ceil(len(tiles) / cols)
    lines = max(len(t.label) for t in tiles)
    pad, tile_h = PAD, tile_width * 9 // 16
    label_h = strip_height(lines, font_px)
    cell_w, cell_h = tile_width + pad, tile_h + label_h + pad
    sheet = Image.new("RGB", (cols * cell_w + pad, rows * cell_h + pad), BACKGROUND)
    posters, labels = [], []
    for n, tile in enumerate(tiles):
        x0, y0 = pad + (n % cols) * cell_w, pad + (n // cols) * cell_h
        try:
            with Image.open(tile.poster) as img:
                img = img.convert("RGB")
                img.thumbnail((tile_width, tile_h))
                poster = img.copy()
        except OSError as exc:
            raise MediaError(f"The poster {tile.poster.name} could not be read for the comparison sheet.") from exc
        left, top = x0 + (tile_width - poster.width) // 2, y0 + (tile_h - poster.height) // 2
        sheet.paste(poster, (left, top))
        posters.append(Box(left, top, left + poster.width, top + poster.height))
        # Drawn apart, then pasted: a long label is cut at its tile.
        sheet.paste(label_strip(tile.label, tile_width, font_px, label_h), (x0, y0 + tile_h))
        labels.append(Box(x0, y0 + tile_h, x0 + tile_width, y0 + tile_h + label_h))
    path = _save_jpeg(sheet, Path(out))
    return SheetLayout(path, sheet.width, sheet.height, posters, labels)


def _save_jpeg(image: object, path: Path) -> Path:
    """Written beside its final name, then renamed: a reader never sees half a sheet."""
    from reelforge.media.frames import atomic_save

    return atomic_save(image, path, format="JPEG", quality=90)  # type: ignore[arg-type]
