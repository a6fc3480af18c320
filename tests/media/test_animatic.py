"""The preview animatic: exact frames, size, rate and audio; deterministic; labelled; loops close."""

from __future__ import annotations

from pathlib import Path

import anyio
import av
import numpy as np
import pytest
from PIL import Image

from reelforge.errors import InvalidRequest
from reelforge.media.animatic import render_animatic
from reelforge.media.text import Typesetter
from reelforge.media.frames import to_rgb
from reelforge.media.probe import probe
from reelforge.media.seam import loop_seam
from tests.media_utils import make_gradient_image, make_image

PROMPT = "A lighthouse on a cliff at dusk, waves crashing below, slow aerial orbit"


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [to_rgb(f).astype(np.int16) for f in c.decode(video=0)]


def _no_partials(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".partial-")]


async def test_text_card_has_exact_frames_size_rate_and_silent_audio(tmp_path: Path) -> None:
    seen: list[float] = []

    async def progress(f: float) -> None:
        seen.append(f)

    out = await render_animatic(tmp_path / "t.mp4", width=320, height=180, fps=10, duration_s=1.26, seed=3,
                                prompt=PROMPT, progress=progress)
    info = probe(out)
    assert (info.frames, info.width, info.height, info.fps) == (13, 320, 180, 10.0)  # round(12.6) = 13
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert info.has_audio and info.audio_codec == "aac" and info.sample_rate == 48000
    assert info.audio_duration_s == pytest.approx(1.3, abs=0.03)
    with av.open(str(out)) as c:
        a = c.streams.audio[0]
        assert a.codec_context.channels == 2
        v = c.streams.video[0].codec_context
        assert (v.colorspace, v.color_range) == (1, 1)  # BT.709, limited range
        samples = np.concatenate([f.to_ndarray().ravel() for f in c.decode(audio=0)])
    assert np.abs(samples).max() < 1e-4  # silence
    assert seen and seen[-1] == 1.0 and all(b > a for a, b in zip(seen, seen[1:]))
    frames = _decode(out)
    assert np.abs(frames[-1] - frames[0]).mean() > 2  # it moves
    assert _no_partials(tmp_path)


async def test_same_seed_same_pixels_other_seed_other_look(tmp_path: Path) -> None:
    kw = dict(width=160, height=90, fps=12, duration_s=1.0, prompt=PROMPT)
    a = _decode(await render_animatic(tmp_path / "a.mp4", seed=11, **kw))
    b = _decode(await render_animatic(tmp_path / "b.mp4", seed=11, **kw))
    c = _decode(await render_animatic(tmp_path / "c.mp4", seed=12, **kw))
    assert len(a) == len(b) == 12
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert np.abs(a[0] - c[0]).mean() > 5  # another seed: other colours


async def test_first_frame_ken_burns_starts_on_the_image_and_is_labelled(tmp_path: Path) -> None:
    img = make_gradient_image(tmp_path / "g.png", (320, 180))
    out = await render_animatic(tmp_path / "kb.mp4", width=320, height=180, fps=12, duration_s=1.5, seed=1,
                                prompt="ignored words", first_frame=img)
    frames = _decode(out)
    assert len(frames) == 18
    source = np.asarray(Image.open(img).convert("RGB")).astype(np.int16)
    badge = np.zeros(source.shape[:2], bool)
    badge[:30, :90] = True  # the PREVIEW badge sits in the top-left corner
    # Frame 0 is the image itself (up to H.264 loss) outside the badge; later frames are not.
    assert np.abs(frames[0] - source)[~badge].mean() < 4
    assert np.abs(frames[-1] - source)[~badge].mean() > 8
    # The badge: a dark box with bright text, on every frame.
    for f in (frames[0], frames[9], frames[-1]):
        corner = f[4:24, 4:70].mean(axis=2)
        assert corner.max() > 200 and np.percentile(corner, 30) < 90


async def test_first_and_last_frame_blend_from_one_to_the_other(tmp_path: Path) -> None:
    red = make_image(tmp_path / "red.png", (400, 200), (220, 30, 30))  # other aspect: cover-fitted
    blue = make_image(tmp_path / "blue.jpg", (160, 90), (30, 30, 220))
    out = await render_animatic(tmp_path / "fl.mp4", width=160, height=90, fps=12, duration_s=1.0, seed=2,
                                prompt="x", first_frame=red, last_frame=blue)
    frames = _decode(out)
    body = (slice(40, 90), slice(0, 160))  # below the badge
    r0, b0 = frames[0][body][..., 0].mean(), frames[0][body][..., 2].mean()
    r1, b1 = frames[-1][body][..., 0].mean(), frames[-1][body][..., 2].mean()
    assert r0 > 200 and b0 < 50
    assert b1 > 200 and r1 < 50
    mid = frames[6][body]
    assert 60 < mid[..., 0].mean() < 190 and 60 < mid[..., 2].mean() < 190


@pytest.mark.parametrize("with_image", [False, True])
async def test_loop_closes_seamlessly(tmp_path: Path, with_image: bool) -> None:
    kw: dict = dict(width=320, height=180, fps=12, duration_s=2.0, seed=5, prompt=PROMPT)
    if with_image:
        kw["first_frame"] = make_gradient_image(tmp_path / "g.png", (320, 180))
    looped = loop_seam(await render_animatic(tmp_path / "loop.mp4", loop=True, **kw))
    straight = loop_seam(await render_animatic(tmp_path / "straight.mp4", **kw))
    assert 0.5 < looped.seam_ratio < 1.6, looped
    assert looped.worst_step_ratio < 3, looped
    assert straight.seam_ratio > 5 * looped.seam_ratio, straight  # the metric does see the jump (14-30x)


@pytest.mark.slow
async def test_cancel_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "c.mp4"
    started = anyio.Event()

    async def progress(_f: float) -> None:
        started.set()

    async with anyio.create_task_group() as tg:
        async def render() -> None:
            await render_animatic(out, width=640, height=360, fps=24, duration_s=60, seed=1, prompt=PROMPT,
                                  progress=progress)
        tg.start_soon(render)
        with anyio.fail_after(30):
            await started.wait()
        tg.cancel_scope.cancel()
    assert not out.exists() and _no_partials(tmp_path)


async def test_bad_requests_name_the_parameter(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest) as err:
        await render_animatic(tmp_path / "x.mp4", width=161, height=90, fps=24, duration_s=1, seed=0, prompt="x")
    assert err.value.param == "width"
    with pytest.raises(InvalidRequest) as err:
        await render_animatic(tmp_path / "x.mp4", width=160, height=90, fps=24, duration_s=0, seed=0, prompt="x")
    assert err.value.param == "duration_s"
    with pytest.raises(InvalidRequest) as err:
        await render_animatic(tmp_path / "x.mp4", width=160, height=90, fps=24, duration_s=1, seed=0, prompt="x",
                              first_frame=tmp_path / "missing.png")
    assert err.value.param == "first_frame"
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(InvalidRequest) as err:
        await render_animatic(tmp_path / "x.mp4", width=160, height=90, fps=24, duration_s=1, seed=0, prompt="x",
                              last_frame=tmp_path / "junk.png")
    assert err.value.param == "last_frame"
    assert not (tmp_path / "x.mp4").exists()


def test_wrap_fits_every_line_and_keeps_every_word() -> None:
    setter = Typesetter()
    text = "supercalifragilisticexpialidocious " * 3 + "a lighthouse at dusk"
    lines = setter.wrap(text, 20, 120)
    assert all(setter.width(line, 20) <= 120 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


async def test_empty_and_very_long_prompts_render(tmp_path: Path) -> None:
    for name, prompt in (("empty", ""), ("long", "word " * 400)):
        info = probe(await render_animatic(tmp_path / f"{name}.mp4", width=160, height=90, fps=8, duration_s=0.5,
                                           seed=0, prompt=prompt))
        assert info.frames == 4
