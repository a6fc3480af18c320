"""The timeline model without rendering: spec rules, presets, OTIO mapping, planner, filters."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from reelforge.timeline.edit import Cut, Edit, PlacedClip, transition_from_xfade, xfade_name
from reelforge.timeline.filters import concat_list, escape_value
from reelforge.timeline.otio_model import build_otio, edit_from_otio, load_otio_spec, write_otio
from reelforge.timeline.presets import output_format, video_encoder_args
from reelforge.timeline.spec import ClipSpec, TimelineSpec, TitleSpec, TransitionSpec
from reelforge.timeline.titles import shipped_font, wrap_lines

KINDS = ["cut", "crossfade", "fade_black", "fade_white", "dissolve", "wipe", "slide", "zoom"]


def test_clip_needs_exactly_one_source() -> None:
    with pytest.raises(ValidationError, match="exactly one of job_id, path or generate"):
        ClipSpec(job_id="j1", path="/x.mp4")
    with pytest.raises(ValidationError, match="got none"):
        ClipSpec()
    assert ClipSpec(generate={"prompt": "a cat"}).generate == {"prompt": "a cat"}


def test_spec_rules_reject_nonsense() -> None:
    with pytest.raises(ValidationError, match="out_s"):
        ClipSpec(path="/x.mp4", in_s=2, out_s=1)
    with pytest.raises(ValidationError, match="direction"):
        TransitionSpec(kind="crossfade", direction="left")
    with pytest.raises(ValidationError, match="color"):
        TitleSpec(text="x", color="chartreuse-ish")
    with pytest.raises(ValidationError, match="exactly one of 'clips' or 'otio_path'"):
        TimelineSpec()
    schema = TimelineSpec.model_json_schema()
    assert "description" in schema["properties"]["preset"]


def test_with_clip_paths_resolves_every_source() -> None:
    spec = TimelineSpec(clips=[ClipSpec(job_id="j1", in_s=1), ClipSpec(generate={"prompt": "p"})])
    resolved = spec.with_clip_paths(["/a.mp4", Path("/b.mp4")])
    assert [c.path for c in resolved.clips or []] == ["/a.mp4", "/b.mp4"]
    assert all(c.job_id is None and c.generate is None for c in resolved.clips or [])
    assert (resolved.clips or [])[0].in_s == 1
    with pytest.raises(ValueError, match="expected 2 paths"):
        spec.with_clip_paths(["/a.mp4"])


@pytest.mark.parametrize(
    ("preset", "orientation", "size", "fps", "rate"),
    [
        ("draft", "16:9", (854, 480), 24, "1500k"),
        ("standard", "9:16", (720, 1280), 30, "3000k"),
        ("high", "1:1", (1080, 1080), 30, "6000k"),
        ("premium", "16:9", (3840, 2160), 60, "15000k"),
    ],
)
def test_presets(preset, orientation, size, fps, rate) -> None:
    fmt = output_format(preset, orientation)
    assert (fmt.width, fmt.height, fmt.fps) == (*size, fps)
    args = video_encoder_args(fmt)
    assert args[args.index("-b:v") + 1] == rate
    assert args[args.index("-color_primaries") + 1] == "bt709"
    assert output_format(preset, orientation, fps=25).fps == 25


@pytest.mark.parametrize("kind", KINDS)
def test_xfade_names_round_trip(kind: str) -> None:
    direction = "up" if kind in ("wipe", "slide") else None
    t = TransitionSpec(kind=kind, direction=direction, duration_s=0.5)  # type: ignore[arg-type]
    name = xfade_name(t)
    assert (name is None) == (kind == "cut")
    back = transition_from_xfade(name, 12, 24)
    assert back.kind == kind and back.direction == direction
    assert xfade_name(TransitionSpec(kind="crossfade")) == "fade"  # editor-style cross dissolve


def _spec(lengths: list[int], overlaps: list[int], fps: int, kinds: list[str]) -> TimelineSpec:
    clips = []
    for i, n in enumerate(lengths):
        t = None
        if i < len(overlaps) and overlaps[i]:
            kind = kinds[i % len(kinds)] if kinds[i % len(kinds)] != "cut" else "crossfade"
            t = TransitionSpec(kind=kind, duration_s=overlaps[i] / fps)  # type: ignore[arg-type]
        clips.append(ClipSpec(path=f"/media/c{i}.mp4", in_s=3 / fps, out_s=(3 + n) / fps, transition=t))
    return TimelineSpec(clips=clips)


@st.composite
def timelines(draw):
    fps = draw(st.sampled_from([24, 25, 30, 60]))
    lengths = draw(st.lists(st.integers(4, 80), min_size=1, max_size=8))
    overlaps = []
    for i in range(len(lengths) - 1):
        room = min(lengths[i] - (overlaps[-1] if overlaps else 0), lengths[i + 1]) // 2
        overlaps.append(draw(st.integers(0, max(0, room))))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=4))
    return fps, lengths, overlaps, kinds


@settings(max_examples=60, deadline=None)
@given(timelines())
def test_spec_to_otio_to_edit_is_frame_exact(case) -> None:
    fps, lengths, overlaps, kinds = case
    spec = _spec(lengths, overlaps, fps, kinds)
    tl = build_otio(spec, [n + 10 for n in lengths], fps)
    edit = edit_from_otio(tl, fps)
    assert edit.total_frames == sum(lengths) - sum(overlaps)
    # OTIO's own idea of the length agrees: cut-centred transitions do not change it.
    assert tl.tracks[0].duration().rescaled_to(fps).value == edit.total_frames
    for i, placed in enumerate(edit.clips):
        assert (placed.src_start, placed.frames) == (3, lengths[i])
    assert [c.frames for c in edit.cuts] == overlaps


def test_sidecar_reimports_as_the_same_timeline(tmp_path: Path) -> None:
    spec = _spec([40, 30, 50], [9, 6], 30, ["wipe", "zoom"])
    spec = spec.model_copy(update={"titles": [TitleSpec(text="Hi", start_s=0.5, end_s=1.5)]})
    tl = build_otio(spec, [60, 60, 60], 30)
    path = write_otio(tl, tmp_path / "edit.otio")
    again = load_otio_spec(TimelineSpec(otio_path=str(path), preset="draft"))
    assert again.preset == "draft" and again.titles[0].text == "Hi"
    a, b = spec.clips or [], again.clips or []
    for x, y in zip(a, b):
        frames = lambda c: (c.path, round(c.in_s * 30), round((c.out_s or 0) * 30))  # noqa: E731
        assert frames(x) == frames(y)
        assert (x.transition and x.transition.kind) == (y.transition and y.transition.kind)
    # The file is a normal OTIO timeline: a video and an audio track, titles as markers.
    raw = otio.adapters.read_from_file(str(path))
    assert [t.kind for t in raw.tracks] == ["Video", "Audio"]
    assert raw.tracks[0].markers[0].name == "Hi"
    assert raw.tracks[0].markers[0].marked_range.duration.value == 30  # 0.5 s to 1.5 s at 30 fps


def test_foreign_otio_with_asymmetric_handles(tmp_path: Path) -> None:
    """A cut-centred transition (in 4, out 8) from an editor: handles become overlap frames."""
    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    tl = otio.schema.Timeline()
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    tl.tracks.append(track)
    for name in ("x", "y"):
        ref = otio.schema.ExternalReference(target_url=f"media/{name}.mp4")
        track.append(otio.schema.Clip(name=name, media_reference=ref, source_range=tr(rt(24, 24), rt(48, 24))))
        if name == "x":
            track.append(otio.schema.Transition(in_offset=rt(4, 24), out_offset=rt(8, 24)))
    edit = edit_from_otio(tl, 24, base_dir=tmp_path)
    assert edit.total_frames == 96  # OTIO length is unchanged by the transition
    assert [(c.src_start, c.frames) for c in edit.clips] == [(24, 56), (20, 52)]
    assert edit.cuts[0].frames == 12 and edit.cuts[0].xfade == "fade"
    assert edit.clips[0].path == tmp_path / "media/x.mp4"


def test_edit_positions() -> None:
    clips = tuple(PlacedClip(i, Path(f"/c{i}"), 0, 30) for i in range(3))
    edit = Edit(24, clips, (Cut(0, 6, "fade"), Cut(1)))
    assert edit.total_frames == 84
    assert [edit.clip_start(i) for i in range(3)] == [0, 24, 54]
    with pytest.raises(ValueError):
        Edit(24, clips, (Cut(0),))


def test_escape_value_protects_graph_syntax() -> None:
    assert escape_value("between(t,1,2)") == "between(t\\,1\\,2)"
    assert escape_value("/a:b/it's[1];x") == "/a\\\\:b/it\\\\\\'s\\[1\\]\\;x"
    assert concat_list(["/x/it's.mp4"]) == "file '/x/it'\\''s.mp4'\n"


def test_wrap_lines_fits_the_width() -> None:
    from PIL import ImageFont

    font = shipped_font("sans-bold")
    text = "A fairly long title that will not fit on one line at this size, plus averyveryverylongwordwithoutspaces"
    lines = wrap_lines(text, font, 20, 200)
    measure = ImageFont.truetype(str(font), 20)
    assert len(lines) > 2
    assert all(measure.getlength(line) <= 200 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_otio_transition_without_handles_is_refused(tmp_path: Path) -> None:
    from reelforge.errors import InvalidRequest

    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    tl = otio.schema.Timeline()
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    tl.tracks.append(track)
    ref = otio.schema.ExternalReference(target_url="media/x.mp4")
    track.append(otio.schema.Clip(name="x", media_reference=ref.clone(), source_range=tr(rt(0, 24), rt(48, 24))))
    track.append(otio.schema.Transition(in_offset=rt(6, 24), out_offset=rt(6, 24)))
    track.append(otio.schema.Clip(name="y", media_reference=ref.clone(), source_range=tr(rt(0, 24), rt(48, 24))))
    path = tmp_path / "no-handles.otio"
    otio.adapters.write_to_file(tl, str(path))
    with pytest.raises(InvalidRequest) as err:
        load_otio_spec(TimelineSpec(otio_path=str(path)))
    assert err.value.param == "otio_path: clip 1" and "handle" in err.value.message
    with pytest.raises(InvalidRequest) as err:
        load_otio_spec(TimelineSpec(otio_path=str(tmp_path / "missing.otio")))
    assert err.value.param == "otio_path"


async def test_concurrent_failures_surface_as_the_error_itself() -> None:
    from reelforge.errors import InvalidRequest
    from reelforge.timeline.render import _run_all

    async def ok() -> None:
        pass

    async def bad() -> None:
        raise InvalidRequest("clips[1]: nope", param="clips[1].path")

    with pytest.raises(InvalidRequest) as err:  # not an ExceptionGroup
        await _run_all([ok, bad, ok])
    assert err.value.param == "clips[1].path"


def test_unknown_xfade_in_otio_metadata_becomes_a_crossfade(tmp_path: Path) -> None:
    spec = _spec([40, 30], [8], 24, ["wipe"])
    tl = build_otio(spec, [60, 60], 24)
    tl.tracks[0][1].metadata["reelforge"]["xfade"] = "bogus;drawtext=textfile=/etc/passwd"
    assert edit_from_otio(tl, 24).cuts[0].xfade == "fade"
