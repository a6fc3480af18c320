"""The comparison sheet, probed by its pixels: the grid's size, each tile's colour where its poster
went, glyphs in each label strip (Latin and other scripts), and a long label cut at its tile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge.errors import InvalidRequest
from reelforge.media.comparison import BACKGROUND, Tile, comparison_sheet

COLOURS = [(220, 40, 40), (40, 200, 60), (40, 80, 220), (230, 200, 30), (200, 40, 200)]


def _posters(tmp_path: Path, size: tuple[int, int] = (640, 360)) -> list[Path]:
    paths = []
    for i, colour in enumerate(COLOURS):
        path = tmp_path / f"poster{i}.jpg"
        Image.new("RGB", size, colour).save(path, quality=95)
        paths.append(path)
    return paths


def _region(img: Image.Image, box) -> np.ndarray:
    return np.asarray(img.crop((box.left, box.top, box.right, box.bottom)).convert("RGB"), dtype=np.int16)


def _ink(strip: np.ndarray) -> int:
    """Pixels clearly lighter than the background: drawn glyphs."""
    return int((np.abs(strip - np.array(BACKGROUND)).max(axis=2) > 100).sum())


def test_each_tile_holds_its_poster_and_each_label_has_glyphs(tmp_path: Path) -> None:
    labels = [["runway / gen4.5", "$0.60  41.2 s"], ["luma / ray-2", "$0.40  35.0 s"], ["preview / animatic", "$0.00  1.5 s"],
              ["مزود / نموذج", "$1.00  2.0 s"], ["提供者 / 模型", "$0.10  3.0 s"]]
    tiles = [Tile(p, lab) for p, lab in zip(_posters(tmp_path), labels)]
    layout = comparison_sheet(tiles, tmp_path / "sheet.jpg", tile_width=240)
    with Image.open(layout.path) as sheet:
        assert sheet.format == "JPEG" and sheet.size == (layout.width, layout.height)
        cols = len({b.left for b in layout.posters})
        assert cols * 240 < sheet.width and sheet.width <= cols * 260  # tiles side by side, not one per row
        for n, colour in enumerate(COLOURS):
            tile = _region(sheet, layout.posters[n])
            assert tile.shape[:2] == (135, 240)  # 16:9 poster fitted to the tile width
            assert np.abs(tile.reshape(-1, 3).mean(axis=0) - colour).max() < 8, f"tile {n} is not its poster's colour"
            strip = _region(sheet, layout.labels[n])
            assert _ink(strip) > 150, f"label {n} ({labels[n][0]}) drew no glyphs"
            # Both lines are drawn: ink in the top and in the bottom half of the strip.
            half = strip.shape[0] // 2
            assert _ink(strip[:half]) > 50 and _ink(strip[half:]) > 50


def test_posters_of_other_shapes_are_letterboxed_not_stretched(tmp_path: Path) -> None:
    tall = _posters(tmp_path, size=(360, 640))[:2]
    layout = comparison_sheet([Tile(p, ["a"]) for p in tall], tmp_path / "sheet.jpg", tile_width=320)
    box = layout.posters[0]
    assert (box.right - box.left, box.bottom - box.top) == (101, 180)  # 9:16 kept inside a 320x180 tile
    with Image.open(layout.path) as sheet:
        beside = _region(sheet, type(box)(box.left - 40, box.top, box.left - 10, box.bottom))
        assert np.abs(beside - np.array(BACKGROUND)).max() < 12  # the letterbox is background, not poster


def test_a_label_longer_than_its_tile_is_cut_at_the_tile(tmp_path: Path) -> None:
    posters = _posters(tmp_path)[:2]
    layout = comparison_sheet([Tile(posters[0], ["W" * 200]), Tile(posters[1], [""])], tmp_path / "sheet.jpg",
                              tile_width=160)
    with Image.open(layout.path) as sheet:
        assert _ink(_region(sheet, layout.labels[0])) > 300
        assert _ink(_region(sheet, layout.labels[1])) == 0  # the neighbour's strip stays clean


def test_no_tiles_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest):
        comparison_sheet([], tmp_path / "sheet.jpg")
