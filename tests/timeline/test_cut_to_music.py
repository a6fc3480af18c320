"""Cut to the music, checked on the rendered file.

A 120 BPM click-track bed and four flat-colour clips whose lengths do not land on beats are
composed with `audio_bed.cut_to`. The output is then decoded: each cut is found where the picture
changes colour (a crossfade by where its blend passes half way), and must sit within one frame of a
true beat of the bed; the clicks are found again in the rendered sound and the cuts compared with
them too. Placement rules (never longer, room for transitions, bars, loops) are unit-tested on
`place_cuts` directly.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio
import av
import numpy as np
import pytest

from reelforge.media.ffmpeg import ffmpeg_exe
from reelforge.timeline import render_timeline
from reelforge.timeline.beats import BeatGrid, NoSteadyBeat
from reelforge.timeline.music import bed_marks, place_cuts
from reelforge.timeline.spec import AudioBedSpec, ClipSpec, TimelineSpec, TransitionSpec
from tests.timeline.avsync_utils import beep_onsets
from tests.timeline.music_utils import click_track, write_wav

FPS = 25
BPM, FIRST = 120, 0.23  # beats at 0.23 + 0.5 k s: a quarter frame off the 25 fps grid, alternately early/late
COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0)}


def _flat_clip(path: Path, colour: str, seconds: float) -> Path:
    """A silent flat-colour clip of round(seconds * FPS) frames (colour by value: ffmpeg's "green" is dark)."""
    argv = [
        ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi",
        "-i", f"color=c=0x{bytes(COLOURS[colour]).hex()}:s=160x90:r={FPS},trim=end_frame={round(seconds * FPS)}",
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path),
    ]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("music")
    y, _ = click_track(BPM, 10.0, rate=48000, first_s=FIRST)
    out = {"bed": write_wav(d / "clicks.wav", y, 48000)}
    for name, seconds in (("red", 1.85), ("green", 1.3), ("blue", 2.4), ("yellow", 1.0)):
        out[name] = _flat_clip(d / f"{name}.mp4", name, seconds)
    return out


def _beats_true() -> np.ndarray:
    return np.arange(FIRST, 10.0, 60 / BPM)


def _colour_track(path: Path) -> np.ndarray:
    """Mean RGB of the middle of every decoded frame (the clips are letterboxed in a square)."""
    rows = []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            rgb = f.to_ndarray(format="rgb24").astype(np.float32)
            h, w, _ = rgb.shape
            rows.append(rgb[h // 2 - 20 : h // 2 + 20, w // 2 - 20 : w // 2 + 20].reshape(-1, 3).mean(axis=0))
    return np.array(rows)


def _nearest_colour(rgb: np.ndarray) -> str:
    return min(COLOURS, key=lambda name: float(np.sum((np.array(COLOURS[name]) - rgb) ** 2)))


def _blend_centre(track: np.ndarray, a: str, b: str) -> float:
    """Time (s) at which the picture is half clip a, half clip b (interpolated between frames)."""
    ca, cb = np.array(COLOURS[a], np.float32), np.array(COLOURS[b], np.float32)
    share = ((track - ca) @ (cb - ca)) / float((cb - ca) @ (cb - ca))  # 0 = all a, 1 = all b
    k = int(np.flatnonzero((share[:-1] < 0.5) & (share[1:] >= 0.5))[0])
    return (k + (0.5 - share[k]) / (share[k + 1] - share[k])) / FPS


def _render(spec: TimelineSpec, tmp: Path):
    return anyio.run(lambda: render_timeline(spec, tmp / "out", cache_dir=tmp / "cache", name="music"))


def test_cuts_land_on_the_beats_of_the_rendered_file(media: dict[str, Path], tmp_path: Path) -> None:
    spec = TimelineSpec(
        clips=[
            ClipSpec(path=str(media["red"])),
            ClipSpec(path=str(media["green"]), transition=TransitionSpec(kind="crossfade", duration_s=0.4)),
            ClipSpec(path=str(media["blue"])),
            ClipSpec(path=str(media["yellow"])),
        ],
        audio_bed=AudioBedSpec(path=str(media["bed"]), volume=0.5, fade_out_s=0, cut_to="beats"),
        preset="draft", orientation="1:1", fps=FPS,
    )
    result = _render(spec, tmp_path)
    track = _colour_track(Path(result.path))
    assert len(track) == result.expected_frames
    names = [_nearest_colour(rgb) for rgb in track]
    assert [n for k, n in enumerate(names) if k == 0 or names[k - 1] != n] == list(COLOURS)
    # Hard cuts: the first frame of the new colour. The crossfade: where its blend is half way.
    # As planned they would be at 1.85, 2.95 and 5.15 s, 70-120 ms off the beat.
    cuts = [names.index("green") / FPS, _blend_centre(track, "green", "blue"), names.index("yellow") / FPS]
    beats = _beats_true()
    frame = 1 / FPS
    for cut in cuts:
        assert float(np.min(np.abs(beats - cut))) <= frame, (cut, cuts)
    # Trimmed, never stretched: every clip plays at most its own length, so the output is shorter.
    planned_frames = round(1.85 * FPS) + round(1.3 * FPS) + round(2.4 * FPS) + round(1.0 * FPS) - round(0.4 * FPS)
    assert result.expected_frames == planned_frames - sum(round(c.trimmed_s * FPS) for c in result.beat_cuts)
    assert all(c.trimmed_s > 0 for c in result.beat_cuts)
    # The report says the same as the picture.
    assert [c.on_beat for c in result.beat_cuts] == [True, True, True]
    for reported, seen in zip(result.beat_cuts, cuts):
        assert abs(reported.cut_s - seen) <= frame
        assert abs(reported.offset_ms) <= 1000 / FPS / 2 + 0.1
        assert float(np.min(np.abs(beats - reported.beat_s))) < 0.005
    assert abs(result.tempo_bpm - BPM) < 1
    assert any("cuts landed at" in n for n in result.notes)
    # The clicks heard in the rendered sound fall on the same beats, and so do the cuts.
    clicks = np.array(beep_onsets(Path(result.path)))
    in_range = beats[beats < result.duration_s]
    assert len(clicks) == len(in_range)
    assert np.max(np.abs(clicks - in_range)) < 0.005
    for cut in cuts:
        assert float(np.min(np.abs(clicks - cut))) <= frame


def test_cut_to_bars(media: dict[str, Path], tmp_path: Path) -> None:
    # Bars of 2 beats: every second click (phase 0: the clicks are all alike).
    spec = TimelineSpec(
        clips=[ClipSpec(path=str(media["blue"])), ClipSpec(path=str(media["yellow"]))],
        audio_bed=AudioBedSpec(path=str(media["bed"]), fade_out_s=0, cut_to="bars", beats_per_bar=2),
        preset="draft", orientation="1:1", fps=FPS,
    )
    result = _render(spec, tmp_path)
    names = [_nearest_colour(rgb) for rgb in _colour_track(Path(result.path))]
    cut = names.index("yellow") / FPS
    bars = _beats_true()[::2]  # 0.23, 1.23, 2.23, ...: blue's 2.4 s end goes back to 2.23
    assert abs(cut - 2.23) <= 1 / FPS
    assert float(np.min(np.abs(bars - cut))) <= 1 / FPS
    assert result.beat_cuts[0].trimmed_s == pytest.approx(2.4 - 2.24, abs=1e-6)


def test_bed_without_a_beat_is_refused_before_rendering(media: dict[str, Path], tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    noise = write_wav(tmp_path / "noise.wav", (0.3 * rng.standard_normal(48000 * 6)).astype(np.float32), 48000)
    spec = TimelineSpec(
        clips=[ClipSpec(path=str(media["red"])), ClipSpec(path=str(media["green"]))],
        audio_bed=AudioBedSpec(path=str(noise), cut_to="beats"), preset="draft", fps=FPS,
    )
    with pytest.raises(NoSteadyBeat) as err:
        _render(spec, tmp_path)
    assert err.value.param == "audio_bed.cut_to"
    assert not (tmp_path / "out" / "music.mp4").exists()


def _grid(beats: list[float], per_bar: int = 4) -> BeatGrid:
    return BeatGrid(120.0, tuple(beats), tuple(beats[::per_bar]), per_bar, 1.0, 10.0)


def _spec(lengths: list[float], transitions: dict[int, float] | None = None) -> TimelineSpec:
    clips = []
    for i, _ in enumerate(lengths):
        t = (transitions or {}).get(i)
        fade = TransitionSpec(kind="crossfade", duration_s=t) if t else None
        clips.append(ClipSpec(path=f"/c{i}.mp4", transition=fade))
    return TimelineSpec(clips=clips, audio_bed=AudioBedSpec(path="/bed.wav", cut_to="beats"))


def test_place_cuts_trims_only_and_keeps_room_for_transitions() -> None:
    marks = [0.5 * k for k in range(1, 20)]
    # 2.2 s -> 2.0; then 0.3 s: no beat inside it, kept (reported off the beat); then 1.9 s -> 4.0.
    spec, cuts = place_cuts(_spec([2.2, 0.3, 1.9, 1.0]), [55, 7, 47, 25], FPS, marks)
    assert [c.cut_s for c in cuts] == [2.0, 2.28, 4.0]
    assert [c.on_beat for c in cuts] == [True, False, True]
    assert [c.trimmed_s for c in cuts] == [0.2, 0.0, pytest.approx(0.16)]
    assert spec.clips[0].out_s == pytest.approx(2.0) and spec.clips[1].out_s is None
    assert cuts[1].beat_s == 2.5 and cuts[1].offset_ms == pytest.approx(-220.0)
    # A 0.4 s crossfade (10 frames) is centred on the beat: it starts 5 frames before it.
    _, cuts = place_cuts(_spec([2.2, 2.0], {0: 0.4}), [55, 50], FPS, marks)
    assert cuts[0].cut_s == 2.0 and cuts[0].offset_ms == 0.0
    # The clip keeps room for both transitions: 0.4 + 0.4 s around a 1.0 s clip, so only beats
    # at least 0.8 s into it qualify.
    spec, cuts = place_cuts(_spec([1.0, 1.1, 1.0], {0: 0.4, 1: 0.4}), [25, 27, 25], FPS, [0.9, 1.2, 1.6])
    clip1_start = cuts[0].cut_s - 0.2
    assert cuts[1].on_beat and cuts[1].cut_s - clip1_start >= 0.6 - 1e-9


def test_looped_bed_repeats_its_beats() -> None:
    grid = _grid([0.1, 0.6, 1.1, 1.6])
    assert bed_marks(grid, "beats", 2.0, True, 4.2) == [0.1, 0.6, 1.1, 1.6, 2.1, 2.6, 3.1, 3.6, 4.1]
    assert bed_marks(grid, "beats", 2.0, False, 4.2) == [0.1, 0.6, 1.1, 1.6]
    assert bed_marks(grid, "bars", 2.0, True, 4.2) == [0.1, 2.1, 4.1]


async def test_compose_timeline_refuses_a_beatless_bed_before_paying_for_inline_clips(settings, tmp_path: Path) -> None:
    """Through the MCP tool: the bed is analysed when the request arrives, so an inline (paid)
    generation is never started for a timeline that could not be cut to its music."""
    from emulators.runway import RunwayEmulator

    from tests.client_utils import make_client

    rng = np.random.default_rng(5)
    noise = write_wav(tmp_path / "noise.wav", (0.3 * rng.standard_normal(48000 * 6)).astype(np.float32), 48000)
    with RunwayEmulator() as emu:
        keyed = settings.with_provider_env(RUNWAYML_API_SECRET=emu.api_key, RUNWAYML_BASE_URL=emu.url)
        async with make_client(keyed) as client:
            result = await client.call_tool("compose_timeline", {"request": {"timeline": {
                "clips": [{"generate": {"prompt": "a kite", "provider": "runway", "model": "gen4.5"}},
                          {"generate": {"prompt": "a gull", "provider": "runway", "model": "gen4.5"}}],
                "audio_bed": {"path": str(noise), "cut_to": "beats"}}, "confirm": True}})
    assert result.is_error and "audio_bed.cut_to" in result.content[0].text, result.content[0].text
    assert emu.requests == []
