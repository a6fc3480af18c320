"""Labels for compared results: lines of light text on a dark strip, in any script.

The comparison sheet (posters) and the batch reel (clips) label each tile with the same strip, so a
label reads the same wherever it is drawn, and a test can draw the expected label once and look for
it in either. Text is laid out by `media.text.Typesetter` (the bundled fonts, with a fallback font
per script, so a provider or model name in any script draws real glyphs) and drawn run by run with
Pillow; a label longer than its strip is cut at the strip's edge, never spilled into a neighbour.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image, ImageFont

#: Background and label colours: dark, so pictures stand out; labels light, so glyphs are easy to find.
BACKGROUND = (24, 24, 24)
LABEL_COLOUR = (240, 240, 240)
#: Space around a strip's text, in pixels (half of it above the first line).
PAD = 8


def line_height(font_px: int) -> int:
    return int(font_px * 1.4)


def strip_height(lines: int, font_px: int) -> int:
    """Height of a strip holding `lines` lines at `font_px`."""
    return lines * line_height(font_px) + PAD


@lru_cache(maxsize=32)
def _font(path: Path, font_px: int) -> ImageFont.FreeTypeFont:
    from PIL import ImageFont

    return ImageFont.truetype(str(path), font_px)


def label_strip(lines: list[str], width: int, font_px: int, height: int | None = None) -> Image.Image:
    """The label as an RGB strip `width` wide (`height` tall, default: just enough for its lines)."""
    from PIL import Image, ImageDraw

    from reelforge.media.text import Typesetter

    strip = Image.new("RGB", (width, height or strip_height(len(lines), font_px)), BACKGROUND)
    draw = ImageDraw.Draw(strip)
    typesetter = Typesetter()
    for k, text in enumerate(lines):
        for run in typesetter.line(text, font_px).runs:  # one font per run: the fallback chain picks it per script
            draw.text((run.x, PAD // 2 + k * line_height(font_px)), run.text, font=_font(run.font, font_px),
                      fill=LABEL_COLOUR)
    return strip
