"""Labels as they should read, drawn here independently of reelforge's own drawing, and the check
that a labelled picture (the comparison sheet, a batch reel's frame) holds exactly its own label.

A label is light text on the dark label background, its lines 1.4 font sizes apart, 4 px from the
top; drawn here with the bundled DejaVu Sans alone (a label in another script draws with a fallback
font there, so it only has to look more like its own label than like any other).
"""

from __future__ import annotations

import numpy as np


def label_image(lines: list[str], size: tuple[int, int], font_px: int = 16) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    from reelforge.media.labels import BACKGROUND, LABEL_COLOUR
    from reelforge.media.text import PRIMARY, fonts_dir

    img = Image.new("RGB", size, BACKGROUND)
    draw, font = ImageDraw.Draw(img), ImageFont.truetype(str(fonts_dir() / PRIMARY), font_px)
    for k, text in enumerate(lines):
        draw.text((0, 4 + k * int(font_px * 1.4)), text, font=font, fill=LABEL_COLOUR)
    return np.asarray(img, dtype=np.float32)


def crop(picture: np.ndarray, box) -> np.ndarray:
    return picture[box.top:box.bottom, box.left:box.right].astype(np.float32)


def check_labels(picture: np.ndarray, boxes: list, labels: list[list[str]], which: list[int], font_px: int, *,
                 latin: int | None = None, close: float = 8.0) -> None:
    """Each strip in `which` holds glyphs and looks more like its own label than any other; the
    first `latin` labels (all of them by default) also match the drawing here within `close`."""
    for n in which:
        strip = crop(picture, boxes[n])
        assert (strip.max(axis=2) > 150).sum() > 100, f"label {n}: no glyph pixels"
        errors = [float(np.abs(strip - label_image(lab, strip.shape[1::-1], font_px)).mean()) for lab in labels]
        assert errors[n] == min(errors), f"label {n} does not read {labels[n]}: {errors}"
        if latin is None or n < latin:
            assert errors[n] < close, f"label {n} differs from {labels[n]} by {errors[n]:.1f}"
