"""frames: exact last frame (checked against a full decode), explicit BT.709, posters, sheets."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from reelforge.errors import InvalidRequest
from reelforge.media.frames import contact_sheet, frame_at, last_frame, poster, sample_frames, save_png, to_rgb
from tests.media_utils import make_clip


def _all_frames_bt709(path: Path) -> list[np.ndarray]:
    """Ground truth: every frame, converted from the raw YUV planes with the BT.709 formula."""
    out = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            yuv = f.to_ndarray(format="yuv444p").astype(np.float64)  # planes (3, h, w), limited range
            y, u, v = (yuv[0] - 16) / 219, (yuv[1] - 128) / 224, (yuv[2] - 128) / 224
            r = y + 1.5748 * v
            g = y - 0.1873 * u - 0.4681 * v
            b = y + 1.8556 * u
            out.append(np.clip(np.stack([r, g, b], -1) * 255 + 0.5, 0, 255).astype(np.uint8))
    return out


def _decode_all(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [to_rgb(f) for f in c.decode(video=0)]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("bframes.mp4", {"extra_args": ["-bf", "3", "-g", "100"]}),  # B-frames, one long GOP
        ("long_audio.mp4", {"audio_seconds": 2.5}),  # audio outlasts video: -sseof would fail
        ("vp9.webm", {}),
        ("mkv.mkv", {"pattern": "mandelbrot"}),
    ],
)
def test_last_frame_is_exact(tmp_path: Path, name: str, kwargs: dict) -> None:
    clip = make_clip(tmp_path / name, 3.0 if "bframes" in name else 1.0, fps=24, **kwargs)
    truth = _decode_all(clip)
    lf = last_frame(clip)
    assert lf.index == len(truth) - 1
    assert np.array_equal(lf.rgb, truth[-1])
    assert not np.array_equal(lf.rgb, truth[-2])  # the clips move: the last frame is distinguishable
    assert lf.pts_s == pytest.approx((len(truth) - 1) / 24, abs=0.002)


def test_untagged_video_is_decoded_as_bt709_not_bt601(tmp_path: Path) -> None:
    # No colour tags at all: PyAV's default would use BT.601 (a visible seam against our BT.709 encodes).
    # A flat colour, so chroma upsampling cannot blur the comparison: only the matrix matters.
    untag = ["-colorspace", "unknown", "-color_primaries", "unknown", "-color_trc", "unknown"]
    clip = make_clip(tmp_path / "untagged.mp4", 0.5, pattern="still", extra_args=untag)
    with av.open(str(clip)) as c:
        frame = next(c.decode(video=0))
        assert frame.colorspace == 2  # unspecified
        ours = to_rgb(frame)
        default = frame.to_ndarray(format="rgb24")
    truth = _all_frames_bt709(clip)[0]
    assert np.abs(ours.astype(int) - truth).max() <= 1
    assert np.abs(default.astype(int) - truth).max() >= 3  # BT.601: 4 levels off on this blue


@pytest.mark.slow
def test_frame_at_and_sample_frames(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", 1.0, pattern="mandelbrot")
    truth = _decode_all(clip)
    assert np.array_equal(frame_at(clip, 5), truth[5])
    assert np.array_equal(frame_at(clip, -1), truth[-1])
    with pytest.raises(InvalidRequest, match="out of range") as err:
        frame_at(clip, 24)
    assert err.value.param == "index"
    picked = sample_frames(clip, [20, 3, 3, 11], width=80)
    assert [i for i, _, _ in picked] == [3, 11, 20]
    assert picked[1][1] == pytest.approx(11 / 24, abs=1e-3)
    assert picked[0][2].shape == (44, 80, 3)  # 90 * 80 / 160 = 45, rounded to an even 44


def test_save_png_is_lossless(tmp_path: Path) -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (9, 16, 3), dtype=np.uint8)
    out = save_png(rgb, tmp_path / "sub" / "x.png")
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), rgb)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".partial-")]
    with pytest.raises(ValueError):
        save_png(rgb[..., 0], tmp_path / "bad.png")


def test_poster_and_contact_sheet(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "a.mp4", 2.0, size=(320, 180))
    p = poster(clip, tmp_path / "poster.jpg", max_width=160)
    with Image.open(p) as im:
        assert im.format == "JPEG" and im.size == (160, 90)
    assert p.stat().st_size < 150_000
    s = contact_sheet(clip, tmp_path / "sheet.jpg", cols=4, rows=2, tile_width=80)
    with Image.open(s) as im:
        # 4 tiles of 80x44 (45 rounded to even) plus 4-px padding around and between.
        assert im.size == (4 * 84 + 4, 2 * 48 + 4)
        sheet = np.asarray(im.convert("RGB")).astype(int)
    # Tiles differ (testsrc2 moves); the first and last tile are not the same picture.
    assert np.abs(sheet[4:48, 4:84] - sheet[52:96, 256:336]).mean() > 5


def test_last_frame_in_square_pixels_for_an_anamorphic_clip(tmp_path: Path) -> None:
    # Stored 160x90 with pixels 4:3 wide: the picture a viewer sees (and a generator must be shown)
    # is 213x90; the stored pixels are squeezed.
    clip = make_clip(tmp_path / "ana.mp4", 0.5, extra_args=["-vf", "setsar=4/3"])
    stored = last_frame(clip)
    shown = last_frame(clip, square_pixels=True)
    assert stored.rgb.shape == (90, 160, 3)
    assert shown.rgb.shape == (90, 214, 3) and shown.index == stored.index
    square = make_clip(tmp_path / "sq.mp4", 0.5)
    assert last_frame(square, square_pixels=True).rgb.shape == (90, 160, 3)


@pytest.mark.parametrize("font_px", [10, 24, 80])
def test_a_cached_timestamp_stamp_lands_exactly_where_drawn_text_would(font_px: int) -> None:
    """Contact sheets paste timestamps rendered once (outlined text holds the GIL); the pixels must be
    the ones drawing the text in place gives, anchored at its left/descender corner."""
    from PIL import Image, ImageDraw, ImageFont

    from reelforge.media.frames import _stamp

    where = (37, 150)
    for text in ("0:00.00", "1:04.97"):
        drawn = Image.new("RGB", (400, 200), (24, 24, 24))
        ImageDraw.Draw(drawn).text(where, text, font=ImageFont.load_default(size=font_px), fill="white",
                                   stroke_width=2, stroke_fill="black", anchor="ld")
        pasted = Image.new("RGB", (400, 200), (24, 24, 24))
        stamp, left, top = _stamp(text, font_px)
        pasted.paste(stamp, (where[0] + left, where[1] + top), stamp)
        difference = np.abs(np.asarray(drawn, dtype=int) - np.asarray(pasted, dtype=int))
        assert difference.max() <= 2, (text, font_px, int(difference.max()))
