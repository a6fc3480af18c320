"""Validation against real (tiny) inputs: every error names the clip or title and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from reelforge.errors import InvalidRequest
from reelforge.timeline.presets import output_format
from reelforge.timeline.sources import inspect_audio, inspect_source
from reelforge.timeline.spec import AudioBedSpec, ClipSpec, TimelineSpec, TitleSpec, TransitionSpec
from reelforge.timeline.validate import validate

FMT = output_format("draft", "16:9")  # 24 fps


def _check(spec: TimelineSpec, bed=None) -> int:
    sources = [inspect_source(c.path) for c in spec.clips or []]
    return validate(spec, sources, FMT, bed)


def _clips(a: Path, b: Path, **first) -> list[ClipSpec]:
    return [ClipSpec(path=str(a), **first), ClipSpec(path=str(b))]


def test_valid_timeline_counts_frames(clip_a: Path, clip_b: Path) -> None:
    t = TransitionSpec(kind="slide", direction="right", duration_s=0.5)
    spec = TimelineSpec(clips=[ClipSpec(path=str(clip_a), in_s=0.25, transition=t), ClipSpec(path=str(clip_b))])
    # 42 + 48 frames at 24 fps, overlapping by 12.
    assert _check(spec) == 42 + 48 - 12


@pytest.mark.parametrize(
    ("first", "param", "words"),
    [
        ({"in_s": 2.5}, "clips[0].in_s", "past the end"),
        ({"out_s": 3.0}, "clips[0].out_s", "use at most 2 s"),
        ({"in_s": 1.0, "out_s": 1.01}, "clips[0].out_s", "less than one frame"),
        ({"transition": TransitionSpec(kind="crossfade", duration_s=0.01)}, "clips[0].transition.duration_s",
         "one frame"),
        ({"transition": TransitionSpec(kind="wipe", duration_s=3.0)}, "clips[0].transition.duration_s",
         "plays only 2 s"),
    ],
)
def test_errors_name_clip_and_field(clip_a: Path, clip_b: Path, first, param: str, words: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        _check(TimelineSpec(clips=_clips(clip_a, clip_b, **first)))
    assert err.value.param == param
    assert words in err.value.message


def test_transitions_on_both_sides_must_fit_the_middle_clip(clip_a: Path, clip_b: Path) -> None:
    fade = TransitionSpec(kind="crossfade", duration_s=0.5)
    clips = [
        ClipSpec(path=str(clip_a), transition=fade),
        ClipSpec(path=str(clip_b), in_s=1.4, transition=fade),  # plays 0.6 s, needs 1.0 s
        ClipSpec(path=str(clip_a)),
    ]
    with pytest.raises(InvalidRequest) as err:
        _check(TimelineSpec(clips=clips))
    assert err.value.param == "clips[1].transition.duration_s"
    assert "both sides" in err.value.message


def test_titles_fonts_and_bed(clip_a: Path, clip_b: Path, tmp_path: Path) -> None:
    late = TimelineSpec(clips=_clips(clip_a, clip_b), titles=[TitleSpec(text="x"), TitleSpec(text="y", start_s=9)])
    with pytest.raises(InvalidRequest) as err:
        _check(late)
    assert err.value.param == "titles[1].start_s"
    bad_font = TimelineSpec(clips=_clips(clip_a, clip_b), titles=[TitleSpec(text="x", font=str(tmp_path / "no.ttf"))])
    with pytest.raises(InvalidRequest) as err:
        _check(bad_font)
    assert err.value.param == "titles[0].font"
    not_a_font = tmp_path / "fake.ttf"
    not_a_font.write_bytes(b"not a font")
    with pytest.raises(InvalidRequest, match="not a TrueType"):
        _check(TimelineSpec(clips=_clips(clip_a, clip_b), titles=[TitleSpec(text="x", font=str(not_a_font))]))
    with pytest.raises(InvalidRequest) as err:
        inspect_audio(clip_b)  # a video without sound is no audio bed
    assert err.value.param == "audio_bed.path"
    bed = inspect_audio(clip_a)
    bed_spec = AudioBedSpec(path=str(clip_a), fade_in_s=3, fade_out_s=2)
    long_fades = TimelineSpec(clips=_clips(clip_a, clip_b), audio_bed=bed_spec)
    with pytest.raises(InvalidRequest) as err:
        _check(long_fades, bed)
    assert err.value.param == "audio_bed.fade_out_s"
    with pytest.raises(InvalidRequest) as err:
        _check(TimelineSpec(clips=_clips(clip_a, clip_b), subtitles_path=str(tmp_path / "x.txt")))
    assert err.value.param == "subtitles_path"


def test_preset_limits(clip_a: Path) -> None:
    spec = TimelineSpec(clips=[ClipSpec(path=str(clip_a))] * 101, preset="premium")
    sources = [inspect_source(clip_a)] * 101
    with pytest.raises(InvalidRequest) as err:
        validate(spec, sources, output_format("premium"), None)
    assert err.value.param == "clips" and "premium" in err.value.message
