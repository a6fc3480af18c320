"""The comparison sheet: posters side by side in a grid, each labelled under it.

A batch (an A/B of one prompt across providers, or many generations) ends with one image a person
can judge at a glance. Labels are laid out by `media.text.Typesetter` (the bundled fonts, with a
fallback font per script, so a model or provider name in any script draws real glyphs) and drawn
run by run with Pillow. Posters are fitted into equal tiles (letterboxed, never stretched), so
clips of different aspect ratios still line up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from reelforge.errors import InvalidRequest, MediaError

#: Background and label colours: dark, so posters stand out; labels light, so glyphs are easy to find.
BACKGROUND = (24, 24, 24)
LABEL_COLOUR = (240, 240, 240)
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
    from PIL import Image, ImageDraw, ImageFont

    from reelforge.media.text import Typesetter

    if not tiles:
        raise InvalidRequest("A comparison sheet needs at least one poster.")
    if tile_width < 64 or font_px < 8:
        raise InvalidRequest("comparison_sheet needs tile_width >= 64 and font_px >= 8.", param="tile_width")
    cols = _columns(len(tiles))
    rows = math.ceil(len(tiles) / cols)
    lines = max(len(t.label) for t in tiles)
    pad, tile_h = 8, tile_width * 9 // 16
    line_h = int(font_px * 1.4)
    label_h = lines * line_h + pad
    cell_w, cell_h = tile_width + pad, tile_h + label_h + pad
    sheet = Image.new("RGB", (cols * cell_w + pad, rows * cell_h + pad), BACKGROUND)
    typesetter = Typesetter()
    fonts: dict[Path, ImageFont.FreeTypeFont] = {}
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
        strip = Image.new("RGB", (tile_width, label_h), BACKGROUND)  # drawn apart: a long label is cut at its tile
        draw = ImageDraw.Draw(strip)
        for k, text in enumerate(tile.label):
            for run in typesetter.line(text, font_px).runs:  # one font per run: the fallback chain picks it per script
                font = fonts.get(run.font) or fonts.setdefault(run.font, ImageFont.truetype(str(run.font), font_px))
                draw.text((run.x, pad // 2 + k * line_h), run.text, font=font, fill=LABEL_COLOUR)
        sheet.paste(strip, (x0, y0 + tile_h))
        labels.append(Box(x0, y0 + tile_h, x0 + tile_width, y0 + tile_h + label_h))
    path = _save_jpeg(sheet, Path(out))
    return SheetLayout(path, sheet.width, sheet.height, posters, labels)


def _save_jpeg(image: object, path: Path) -> Path:
    """Written beside its final name, then renamed: a reader never sees half a sheet."""
    from reelforge.media.frames import atomic_save

    return atomic_save(image, path, format="JPEG", quality=90)  # type: ignore[arg-type]
