"""Non-Latin text draws real glyphs in preview title cards and compose titles (issue 8, item 5).

Each case renders a real clip, decodes its frame from the written file and checks the text ink:

- it is there (nothing silently left out);
- it is not the missing-glyph box: no inked shape is a hollow rectangle (what every font's
  `.notdef` looks like), and the ink is not any bundled font's `.notdef` bitmap;
- it depends on the characters: two words of one script with the same number of code points
  draw different ink (tofu boxes would be identical).

Characters no bundled font can draw (an emoji) are left out and named in the job's notes.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import ImageFont

from reelforge.media.animatic import render_animatic
from reelforge.timeline import render_timeline
from reelforge.timeline.spec import ClipSpec, TimelineSpec, TitleSpec
from tests.media_utils import make_clip

#: Two words per script with the same number of code points and no spaces: drawn as boxes,
#: they would be pixel-identical. (No closed square letters such as Hebrew final mem.)
WORDS = {
    "latin": ("Harbour", "Lantern"),
    "cyrillic": ("Привет", "Москва"),
    "greek": ("κόσμος", "Ελλάδα"),
    "chinese": ("你好世界", "中文字幕"),
    "japanese": ("こんにちは", "ありがとう"),
    "korean": ("안녕하세요", "서울역까지"),
    "arabic": ("مرحبا", "سلامة"),
    "hebrew": ("ילדה", "תורה"),
    "devanagari": ("नमस्ते", "दुनिया"),
}
FONTS = Path(__file__).resolve().parents[2] / "src" / "reelforge" / "timeline" / "fonts"


def _frame(path: Path, index: int = 0) -> np.ndarray:
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"{path} has no frame {index}")


def _ink(rgb: np.ndarray, rows: slice) -> np.ndarray:
    """Near-white pixels (the text fill) in the given rows; backgrounds here stay darker."""
    return rgb[rows].min(axis=2) > 200


def _components(mask: np.ndarray) -> list[np.ndarray]:
    """4-connected components of a boolean mask, each as a cropped boolean array."""
    seen = np.zeros_like(mask)
    out = []
    for y0, x0 in zip(*np.nonzero(mask)):
        if seen[y0, x0]:
            continue
        stack, pts = [(y0, x0)], []
        seen[y0, x0] = True
        while stack:
            y, x = stack.pop()
            pts.append((y, x))
            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        ys, xs = np.array(pts).T
        crop = np.zeros((ys.max() - ys.min() + 1, xs.max() - xs.min() + 1), bool)
        crop[ys - ys.min(), xs - xs.min()] = True
        out.append(crop)
    return out


def _is_box(c: np.ndarray) -> bool:
    """Whether an inked shape holds a rectangle: two full-height sides joined along the top and
    the bottom with square corners (a `.notdef` box, empty or crossed, alone or touching its
    neighbours; an "o" has no corners)."""
    h, w = c.shape
    if h < 6 or w < 4:
        return False
    posts = [x for x in range(w) if c[:, x].sum() >= 0.9 * h]
    edges = [x for k, x in enumerate(posts) if k == 0 or posts[k - 1] != x - 1]  # first column of each side
    ends = [x for k, x in enumerate(posts) if k == len(posts) - 1 or posts[k + 1] != x + 1]
    band = max(1, h // 8)
    for k, (right, left) in enumerate(zip(edges[1:], ends[:-1])):
        if right - left < 3:
            continue
        between = c[:, left + 1: right]
        x0, x1 = edges[k], ends[k + 1]  # the outer columns of the two sides
        corners = c[:2, x0:x0 + 2], c[:2, x1 - 1:x1 + 1], c[-2:, x0:x0 + 2], c[-2:, x1 - 1:x1 + 1]
        if (between[:band].any(axis=0).mean() > 0.85 and between[-band:].any(axis=0).mean() > 0.85
                and all(corner.all() for corner in corners)):
            return True
    return False


def _notdef_masks(px: int) -> list[np.ndarray]:
    """The .notdef bitmap of every bundled font (and Pillow's default) at `px`, thresholded."""
    fonts = [ImageFont.truetype(str(p), px) for p in sorted(FONTS.glob("*.[ot]tf"))]
    masks = []
    for font in [*fonts, ImageFont.load_default(size=px)]:
        glyph = np.array(font.getmask("\U000f0000"), np.uint8).reshape(font.getmask("\U000f0000").size[::-1])
        if glyph.any():
            masks.append(glyph > 128)
    return masks


def _contains(mask: np.ndarray, template: np.ndarray) -> bool:
    """Whether `template` appears in `mask` almost exactly (IoU > 0.8 at some offset)."""
    ys, xs = np.nonzero(mask)
    mask = mask[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]  # the inked area only: fast
    th, tw = template.shape
    if mask.shape[0] < th or mask.shape[1] < tw:
        return False
    windows = np.lib.stride_tricks.sliding_window_view(mask, (th, tw))
    inter = (windows & template).sum(axis=(2, 3))
    union = (windows | template).sum(axis=(2, 3))
    return bool(((inter / np.maximum(union, 1)) > 0.8).any())


def _assert_glyphs(a: np.ndarray, b: np.ndarray, px: int | None, script: str) -> None:
    for mask in (a, b):
        assert mask.sum() > 40, f"{script}: no text ink (left out?)"
        boxes = [c.shape for c in _components(mask) if _is_box(c)]
        assert not boxes, f"{script}: {len(boxes)} missing-glyph boxes {boxes}"
        if px is not None:
            assert not any(_contains(mask, t) for t in _notdef_masks(px)), f"{script}: a .notdef glyph was drawn"
    differ = (a ^ b).sum() / max(1, (a | b).sum())
    assert differ > 0.3, f"{script}: different characters drew the same ink ({differ:.2f})"


@pytest.mark.parametrize("script", list(WORDS))
async def test_preview_title_card_draws_every_script(script: str, tmp_path: Path) -> None:
    masks = []
    for n, word in enumerate(WORDS[script]):
        out = await render_animatic(tmp_path / f"{n}.mp4", width=640, height=360, fps=24, duration_s=1 / 24,
                                    seed=5, prompt=word)
        masks.append(_ink(_frame(out), slice(60, 290)))  # between the PREVIEW badge and the caption
    _assert_glyphs(*masks, None, script)


@pytest.mark.parametrize("script", list(WORDS))
async def test_compose_title_draws_every_script(script: str, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "still.mp4", 0.5, (160, 90), 12, audio=False, pattern="still")
    masks = []
    for n, word in enumerate(WORDS[script]):
        title = TitleSpec(text=word, size=0.1, position="center", fade_s=0, outline=False)
        spec = TimelineSpec(clips=[ClipSpec(path=str(clip))], titles=[title], preset="draft", orientation="1:1",
                            fps=12)
        result = await render_timeline(spec, tmp_path / "out", cache_dir=tmp_path / "cache", name=f"t{n}")
        masks.append(_ink(_frame(Path(result.path), 2), slice(0, None)))
    _assert_glyphs(*masks, 48, script)  # 0.1 of the 480-pixel frame


def test_box_detector_sees_tofu() -> None:
    """The checks above can fail: a row of .notdef boxes is caught by both detectors."""
    row = np.zeros((80, 400), bool)
    glyph = _notdef_masks(48)[0]
    for k in range(4):
        row[10:10 + glyph.shape[0], 10 + 60 * k: 10 + 60 * k + glyph.shape[1]] = glyph
    assert any(_is_box(c) for c in _components(row))
    assert _contains(row, glyph)


async def _finish(client, result) -> dict:
    assert not result.is_error, result.content[0].text
    job = result.structured_content
    while job["status"] not in {"succeeded", "failed", "canceled", "unknown"}:
        job = (await client.call_tool("get_job", {"job_id": job["job_id"], "wait_seconds": 30})).structured_content
    assert job["status"] == "succeeded", job
    return job


async def test_undrawable_prompt_characters_are_named_in_the_job_notes(client) -> None:
    """An emoji no bundled font has is left out of the card and named in the notes; text the fonts
    cover (Chinese, Arabic, the emoji DejaVu Sans has) raises no note."""
    result = await client.call_tool("generate_video", {"request": {
        "prompt": "Rocket 🚀 launch 火箭发射 إطلاق 😀", "provider": "preview", "duration_s": 1, "fps": 24,
        "resolution": "360p", "aspect_ratio": "16:9", "seed": 1}})
    job = await _finish(client, result)
    notes = " ".join(job["notes"])
    assert "U+1F680" in notes and "🚀" in notes
    assert "U+1F600" not in notes and "U+706B" not in notes  # drawn: no note
    frame = _frame(Path(job["output"]["path"]))
    assert not [c.shape for c in _components(_ink(frame, slice(60, 290))) if _is_box(c)]

    plain = await _finish(client, await client.call_tool("generate_video", {"request": {
        "prompt": "火箭发射", "provider": "preview", "duration_s": 1, "fps": 24, "resolution": "360p", "seed": 1}}))
    assert not any("U+" in n for n in plain["notes"])


async def test_undrawable_title_characters_are_named_in_the_compose_notes(client, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.mp4", 0.5, (160, 90), 12, audio=False, pattern="still")
    result = await client.call_tool("compose_timeline", {"request": {"timeline": {
        "clips": [{"path": str(clip)}], "preset": "draft", "fps": 12,
        "titles": [{"text": "Launch 🚀 发射"}, {"text": "नमस्ते"}]}, "wait_seconds": 120}})
    job = await _finish(client, result)
    notes = [n for n in job["notes"] if "U+" in n]
    assert len(notes) == 1 and "titles[0]" in notes[0] and "U+1F680" in notes[0], job["notes"]


def test_mixed_direction_lines_are_ordered_and_placed_edge_to_edge() -> None:
    """Runs come out left to right on screen: an Arabic word inside Latin text stays in place, Latin
    inside a Hebrew paragraph goes to its left, and each run starts where the one before ends."""
    from reelforge.media.text import Typesetter

    setter = Typesetter()
    ltr = setter.layout("Hello مرحبا world 中文", 40, 10_000).lines[0]
    assert [r.text for r in ltr.runs if r.text.strip()] == ["Hello", "مرحبا", "world", "中文"]
    assert [r.font.name for r in ltr.runs if r.text.strip()] == [
        "DejaVuSans.ttf", "NotoSansArabic-Regular.ttf", "DejaVuSans.ttf", "NotoSansCJKsc-Regular-subset.otf"]
    rtl = setter.layout("שלום עולם · Привет мир", 40, 10_000).lines[0]
    assert [r.text for r in rtl.runs if r.text.strip()] == ["Привет мир", "·", "שלום עולם"]
    for line in (ltr, rtl):
        assert all(abs(a.x + a.width - b.x) < 1e-6 for a, b in zip(line.runs, line.runs[1:]))
        assert abs(line.runs[-1].x + line.runs[-1].width - line.width) < 1e-6
    assert setter.missing("Rocket 🚀 火箭 😀 ❤️") == ["🚀"]  # DejaVu Sans has 😀 and ❤; the selector is invisible


async def test_boxed_title_mixing_scripts_has_one_even_box_per_line(tmp_path: Path) -> None:
    """Runs in different fonts share one box per line: no darker overlaps or gaps at the joins."""
    clip = make_clip(tmp_path / "still.mp4", 0.5, (160, 90), 12, audio=False, pattern="still")
    title = TitleSpec(text="Привет שלום 中文 नमस्ते", size=0.08, position="center", fade_s=0, outline=False, box=True)
    spec = TimelineSpec(clips=[ClipSpec(path=str(clip))], titles=[title], preset="draft", orientation="16:9", fps=12)
    result = await render_timeline(spec, tmp_path / "out", cache_dir=tmp_path / "cache", name="boxed")
    blue = _frame(Path(result.path), 2)[..., 2].astype(int)  # background 170, the box over it about 100
    boxed = blue < 140
    rows = np.nonzero(boxed.sum(axis=1) > 50)[0]
    assert rows.size > 10
    for y in range(rows.min() + 1, rows.min() + 4):  # the box's top edge, above any glyph
        xs = np.nonzero(boxed[y])[0]
        assert xs.size > 200 and xs.max() - xs.min() + 1 == xs.size, f"row {y}: the box has a gap"
        inner = blue[y, xs[2:-2]]  # (chroma subsampling blurs the two pixels at each end)
        assert inner.max() - inner.min() <= 8, f"row {y}: boxes overlap ({inner.min()}..{inner.max()})"
