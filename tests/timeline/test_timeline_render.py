"""Rendering real timelines from tiny clips; every result is checked by decoding the output."""

from __future__ import annotations

from pathlib import Path

import subprocess

import anyio
import av
import numpy as np
import pytest

from reelforge.media.ffmpeg import ffmpeg_exe
from reelforge.media.probe import probe
from reelforge.timeline import render_timeline
from reelforge.timeline.spec import AudioBedSpec, ClipSpec, TimelineSpec, TitleSpec, TransitionSpec
from tests.media_utils import make_clip
from tests.timeline.conftest import decode, frame_at

# 1:1 draft is the smallest preset frame (480x480); 12 fps keeps every test to a few dozen frames.
SMALL = {"preset": "draft", "orientation": "1:1", "fps": 12}
AAC_FRAME_S = 1024 / 48000


def _t(kind: str, seconds: float = 0.5, direction: str | None = None) -> TransitionSpec:
    return TransitionSpec(kind=kind, duration_s=seconds, direction=direction)  # type: ignore[arg-type]


async def _render(spec: TimelineSpec, tmp: Path, name: str = "timeline", **kw):
    return await render_timeline(spec, tmp / "out", cache_dir=tmp / "cache", name=name, **kw)


def _assert_output(result, expected_frames: int) -> None:
    d = decode(Path(result.path))
    assert result.expected_frames == expected_frames
    assert d.frames == expected_frames
    assert (d.width, d.height, d.codec, d.pix_fmt) == (result.width, result.height, "h264", "yuv420p")
    assert d.audio_s is not None and abs(d.audio_s - expected_frames / result.fps) <= 2 * AAC_FRAME_S
    assert Path(result.otio_path).is_file()


async def test_mixed_inputs_transitions_and_letterbox(clip_a: Path, clip_b: Path, clip_portrait: Path, tmp_path: Path):
    spec = TimelineSpec(
        clips=[
            ClipSpec(path=str(clip_a), transition=_t("crossfade")),  # 24 frames at 12 fps
            ClipSpec(path=str(clip_b), in_s=0.5, transition=_t("wipe", 0.5, "left")),  # 18 frames, no audio
            ClipSpec(path=str(clip_portrait)),  # 18 frames
        ],
        **SMALL,
    )
    result = await _render(spec, tmp_path)
    _assert_output(result, 24 + 18 + 18 - 6 - 6)
    assert result.plan == "segments" and result.segments_rendered == 5
    # Every segment (bodies and transitions, from differently tagged sources) has the same
    # parameter sets, or the stream-copy join would be invalid for players.
    extradata = set()
    for piece in (tmp_path / "cache" / "pieces").glob("*.mp4"):
        with av.open(str(piece)) as c:
            extradata.add(bytes(c.streams.video[0].codec_context.extradata))
    assert len(extradata) == 1
    out = Path(result.path)
    # clip_b (16:9) letterboxed into 1:1: black bars above and below, the flat blue between.
    body_b = frame_at(out, 24)
    assert body_b[:60].mean() < 20 and body_b[-60:].mean() < 20
    assert body_b[240, :, 2].mean() > 120 and body_b[240, :, 0].mean() < 100
    # clip_portrait (9:16) pillarboxed: bars left and right.
    last = frame_at(out, result.expected_frames - 1)
    assert last[:, :60].mean() < 20 and last[:, -60:].mean() < 20 and last[:, 200:280].mean() > 40


async def test_crossfade_blends_and_crop_fills(clip_a: Path, clip_b: Path, tmp_path: Path):
    blue = np.array(frame_at(clip_b, 0)[45, 80], dtype=float)
    spec = TimelineSpec(
        clips=[ClipSpec(path=str(clip_b), transition=_t("fade_white", 1.0)), ClipSpec(path=str(clip_a))],
        fit="crop", **SMALL,
    )
    result = await _render(spec, tmp_path)
    _assert_output(result, 24 + 24 - 12)
    out = Path(result.path)
    first = frame_at(out, 0).astype(float)
    assert np.abs(first - blue).mean() < 12  # crop: the whole frame is picture, no bars
    # fade through white: the picture goes fully white inside the transition (frames 12-23) only.
    means = [frame_at(out, k).mean() for k in (11, 14, 15, 24)]
    assert means[0] < 150 and means[3] < 150 and max(means[1:3]) > 250


@pytest.mark.slow
async def test_cache_rerenders_only_what_changed(clip_a: Path, clip_portrait: Path, tmp_path: Path):
    clips = [
        ClipSpec(path=str(clip_a), transition=_t("zoom")),
        ClipSpec(path=str(clip_a), in_s=0.5),
        ClipSpec(path=str(clip_portrait)),
    ]
    spec = TimelineSpec(clips=clips, **SMALL)
    first = await _render(spec, tmp_path)
    assert (first.segments_rendered, first.segments_cached) == (4, 0)
    again = await _render(spec, tmp_path, name="again")
    assert (again.segments_rendered, again.segments_cached) == (0, 4)
    edited = spec.model_copy(update={"clips": [*clips[:2], ClipSpec(path=str(clip_portrait), out_s=1.0)]})
    third = await _render(edited, tmp_path, name="edited")
    assert (third.segments_rendered, third.segments_cached) == (1, 3)
    _assert_output(third, 24 - 6 + 18 + 12)
    # A tiny cache cap keeps only what the last render used most recently.
    pieces = tmp_path / "cache" / "pieces"
    before = len(list(pieces.iterdir()))
    await _render(edited, tmp_path, name="pruned", cache_max_bytes=1)
    assert len(list(pieces.iterdir())) < before


async def test_titles_are_drawn_where_and_when_asked(clip_b: Path, tmp_path: Path):
    plain = TimelineSpec(clips=[ClipSpec(path=str(clip_b))], **SMALL)
    titled = plain.model_copy(
        update={
            "titles": [TitleSpec(text="Hello: it's 100% \\ done", start_s=0.5, end_s=1.5, position="top", fade_s=0)]
        }
    )
    a = await _render(plain, tmp_path, name="plain")
    b = await _render(titled, tmp_path, name="titled")
    diff = lambda k, rows: np.abs(frame_at(Path(a.path), k)[rows].astype(int) - frame_at(Path(b.path), k)[rows]).mean()
    assert diff(12, slice(0, 120)) > 5  # text at the top while the title is on
    assert diff(12, slice(360, 480)) < 1  # nothing at the bottom
    assert diff(2, slice(0, 120)) < 1 and diff(22, slice(0, 120)) < 1  # nothing before 0.5 s or after 1.5 s


async def test_subtitles_burn_in_without_fontconfig(clip_b: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    empty = tmp_path / "fonts.conf"
    empty.write_text('<?xml version="1.0"?><fontconfig></fontconfig>')
    monkeypatch.setenv("FONTCONFIG_FILE", str(empty))  # no system fonts reachable through fontconfig
    srt = tmp_path / "subs.srt"
    srt.write_text("1\n00:00:00,800\n--> 00:00:01,600\nSubtitle line\n".replace("\n-->", " -->"))
    plain = TimelineSpec(clips=[ClipSpec(path=str(clip_b))], **SMALL)
    a = await _render(plain, tmp_path, name="plain")
    b = await _render(plain.model_copy(update={"subtitles_path": str(srt)}), tmp_path, name="subbed")
    _assert_output(b, 24)
    diff = lambda k: np.abs(frame_at(Path(a.path), k)[410:460].astype(int) - frame_at(Path(b.path), k)[410:460]).mean()
    assert diff(14) > 2 and diff(4) < 1


async def test_audio_bed_mute_and_exact_audio(clip_a: Path, clip_b: Path, media_dir: Path, tmp_path: Path):
    import av

    music = make_clip(tmp_path / "music.mp4", 0.7, (32, 32), 12)  # a 0.7 s 440 Hz tone
    spec = TimelineSpec(
        clips=[ClipSpec(path=str(clip_a), mute=True, transition=_t("crossfade")), ClipSpec(path=str(clip_b))],
        audio_bed=AudioBedSpec(path=str(music), volume=0.5, fade_in_s=0.2, fade_out_s=0.5), **SMALL,
    )
    result = await _render(spec, tmp_path)
    _assert_output(result, 24 + 24 - 6)  # the 0.7 s bed loops; it never shortens the video
    no_bed = await _render(spec.model_copy(update={"audio_bed": None}), tmp_path, name="nobed")
    with av.open(no_bed.path) as c:
        pcm = np.concatenate([f.to_ndarray().ravel() for f in c.decode(audio=0)])
    assert np.abs(pcm).max() < 1e-3  # muted clip + clip without audio = silence
    with av.open(result.path) as c:
        left = np.concatenate([f.to_ndarray()[0] for f in c.decode(audio=0)])
    rms = [float(np.sqrt(np.mean(left[i : i + 4800] ** 2))) for i in range(0, len(left) - 4800, 4800)]
    assert min(rms[3:25]) > 0.02  # the bed plays on, looped, from 0.3 s to 2.5 s
    assert rms[0] < rms[3] and rms[-1] < 0.01  # faded in and out


@pytest.mark.slow
async def test_copy_and_audio_only_plans(clip_a: Path, tmp_path: Path):
    # Inputs that already match the output: render two single clips with the same preset first.
    one = await _render(TimelineSpec(clips=[ClipSpec(path=str(clip_a))], **SMALL), tmp_path, name="one")
    two = await _render(TimelineSpec(clips=[ClipSpec(path=str(clip_a), in_s=0.5)], **SMALL), tmp_path, name="two")
    cuts = TimelineSpec(clips=[ClipSpec(path=one.path), ClipSpec(path=two.path), ClipSpec(path=one.path)], **SMALL)
    copied = await _render(cuts, tmp_path, name="copied")
    assert copied.plan == "copy" and copied.segments_rendered == 0
    _assert_output(copied, 24 + 18 + 24)
    muted = cuts.model_copy(update={"clips": [ClipSpec(path=one.path, mute=True), *(cuts.clips or [])[1:]]})
    audio_only = await _render(muted, tmp_path, name="muted")
    assert audio_only.plan == "audio_only"
    _assert_output(audio_only, 24 + 18 + 24)
    # A trim means re-encoding (copy cuts only at keyframes), so the planner must not copy.
    trimmed = cuts.model_copy(update={"clips": [ClipSpec(path=one.path, out_s=1.0), *(cuts.clips or [])[1:]]})
    assert (await _render(trimmed, tmp_path, name="trimmed")).plan == "segments"


@pytest.mark.slow
async def test_progress_is_monotonic_and_exports(clip_a: Path, clip_portrait: Path, tmp_path: Path):
    seen: list[float] = []

    async def report(fraction: float) -> None:
        seen.append(fraction)

    spec = TimelineSpec(
        clips=[ClipSpec(path=str(clip_a), transition=_t("slide", 0.5, "down")), ClipSpec(path=str(clip_portrait))],
        exports=["webm", "gif"], **SMALL,
    )
    result = await _render(spec, tmp_path, progress=report)
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) >= 3
    webm, gif = decode(Path(result.exports["webm"])), decode(Path(result.exports["gif"]))
    assert webm.frames == result.expected_frames == 24 + 18 - 6 and webm.codec == "vp9"
    assert gif.frames == result.expected_frames and gif.codec == "gif"


async def test_cancel_stops_at_once_and_leaves_nothing(clip_a: Path, tmp_path: Path):
    clips = [ClipSpec(path=str(clip_a), transition=_t("dissolve")) for _ in range(5)] + [ClipSpec(path=str(clip_a))]
    spec = TimelineSpec(clips=clips, preset="draft")
    with anyio.CancelScope() as scope:

        async def cancel_on_progress(fraction: float) -> None:
            scope.cancel()

        await _render(spec, tmp_path, progress=cancel_on_progress)
    assert scope.cancelled_caught
    psutil = pytest.importorskip("psutil")
    assert not [p for p in psutil.Process().children(recursive=True) if "ffmpeg" in p.name()]
    out = tmp_path / "out"
    assert not list(out.glob("*.mp4")) and not list(out.glob(".partial-*"))
    assert not list((tmp_path / "cache").rglob(".partial-*"))


async def test_render_from_uploaded_otio(clip_a: Path, clip_b: Path, tmp_path: Path):
    spec = TimelineSpec(
        clips=[ClipSpec(path=str(clip_a), in_s=0.25, transition=_t("fade_black", 0.5)), ClipSpec(path=str(clip_b))],
        titles=[TitleSpec(text="Kept in the sidecar")], **SMALL,
    )
    first = await _render(spec, tmp_path)
    again = await _render(TimelineSpec(otio_path=first.otio_path, **SMALL), tmp_path, name="from-otio")
    _assert_output(again, first.expected_frames)
    assert again.segments_cached == first.segments_rendered  # identical edit, identical segments


@pytest.mark.slow
async def test_vfr_non_square_pixels_and_other_pixel_formats(tmp_path: Path):
    # Variable frame rate: drop every fifth frame of a 24 fps clip and keep the timestamps.
    cfr = make_clip(tmp_path / "cfr.mp4", 2.0, (160, 90), 24)
    vfr = tmp_path / "vfr.mp4"
    select = ["-vf", "select='not(eq(mod(n\\,5)\\,1))'", "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast"]
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(cfr), *select, "-c:a", "copy", str(vfr)], check=True)
    assert probe(vfr).vfr
    anamorphic = make_clip(tmp_path / "sar.mp4", 1.0, (120, 90), 24, extra_args=["-vf", "setsar=4/3"])
    full_chroma = make_clip(tmp_path / "444.mkv", 1.0, (160, 90), 25, extra_args=["-pix_fmt", "yuv444p"])
    assert probe(full_chroma).pix_fmt == "yuv444p"
    spec = TimelineSpec(
        clips=[
            ClipSpec(path=str(full_chroma)),
            ClipSpec(path=str(vfr), transition=_t("crossfade")),
            ClipSpec(path=str(anamorphic)),
        ],
        **SMALL,
    )
    result = await _render(spec, tmp_path)
    _assert_output(result, 12 + 24 + 12 - 6)
    # 120x90 at SAR 4:3 displays as 160x90 (16:9): letterboxed with the picture 480 wide.
    last = frame_at(Path(result.path), result.expected_frames - 1)
    assert last[240, :8].mean() > 20 and last[:100].mean() < 20


@pytest.mark.slow
async def test_transition_takes_its_first_clip_from_the_body_job(
    clip_a: Path, clip_portrait: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """The body hands its tail to the transition (no second decode of the clip); a re-render that
    has to seek into the source instead gives the same picture."""
    import logging

    caplog.set_level(logging.DEBUG, logger="reelforge.media.ffmpeg")
    spec = TimelineSpec(
        clips=[
            ClipSpec(path=str(clip_a), in_s=0.5, transition=_t("slide", 0.5, "left")),
            ClipSpec(path=str(clip_portrait)),
        ],
        **SMALL,
    )
    first = await _render(spec, tmp_path, name="handoff")
    argvs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ffmpeg argv")]
    assert any("rawvideo" in a for a in argvs)  # the body wrote the tail
    assert any("tail-" in a and "xfade" in a for a in argvs)  # the transition read it
    _assert_output(first, 18 + 18 - 6)
    # Drop the cached transition only: the body is cached, so this time it seeks the source.
    pieces = sorted((tmp_path / "cache" / "pieces").glob("*.mp4"), key=lambda p: p.stat().st_mtime)
    transition = next(p for p in pieces if decode(p).frames == 6)
    transition.unlink()
    caplog.clear()
    again = await _render(spec, tmp_path, name="seek")
    assert (again.segments_rendered, again.segments_cached) == (1, 2)
    assert not any("tail-" in r.getMessage() for r in caplog.records)
    for k in range(12, 18):
        diff = np.abs(frame_at(Path(first.path), k).astype(int) - frame_at(Path(again.path), k)).mean()
        assert diff < 2, (k, diff)


async def test_unusable_inputs_are_refused_before_rendering(clip_a: Path, tmp_path: Path):
    from reelforge.errors import InvalidRequest
    from tests.media_utils import make_image

    still = make_image(tmp_path / "still.png")
    for bad, words in ((still, "still image"), (tmp_path / "missing.mp4", "No file")):
        spec = TimelineSpec(clips=[ClipSpec(path=str(clip_a)), ClipSpec(path=str(bad))], **SMALL)
        with pytest.raises(InvalidRequest) as err:
            await _render(spec, tmp_path)
        assert err.value.param == "clips[1].path" and words in err.value.message
    assert not (tmp_path / "out").exists()  # nothing was rendered or created
