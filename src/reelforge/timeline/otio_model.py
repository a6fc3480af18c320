"""OpenTimelineIO as the timeline model: spec -> OTIO -> edit, `.otio` import, sidecar writing.

Every compose request becomes an OTIO timeline in whole frames at the output rate. Our requests
are overlap-style ("A, then B with a 0.5 s crossfade": the timeline gets shorter by the overlap);
OTIO transitions are cut-centred and consume handles. The mapping is exact in integer frames: a
transition of D frames gets `in_offset = D // 2` and `out_offset = D - D // 2`, the outgoing clip's
source range ends `out_offset` frames before its last used frame and the incoming clip's starts
`in_offset` frames after its first. OTIO has only SMPTE_Dissolve and Custom transition types, so
the real xfade name is kept in `metadata["reelforge"]`, as are titles, the audio bed and per-clip
mute/volume (titles also become markers, which editors such as Resolve display).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import get_args
from urllib.parse import unquote, urlparse

import opentimelineio as otio

from reelforge.errors import InvalidRequest
from reelforge.timeline.edit import KNOWN_XFADES, Cut, Edit, PlacedClip, transition_from_xfade, xfade_name
from reelforge.timeline.spec import AudioBedSpec, ClipSpec, TimelineSpec, TitleSpec, TransitionSpec

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
META = "reelforge"


def clip_frame_range(clip: ClipSpec, available: int, fps: int) -> tuple[int, int]:
    """(first, end) source frames a clip plays at the output rate, from its trims."""
    first = round(clip.in_s * fps + 1e-9)
    end = available if clip.out_s is None else round(clip.out_s * fps + 1e-9)
    return first, end


def cut_frames(clip: ClipSpec, fps: int) -> int:
    """Overlap in output frames of the transition after `clip` (0 for a cut)."""
    t = clip.transition
    return round(t.duration_s * fps + 1e-9) if t is not None and t.overlaps else 0


def _uri(path: str) -> str:
    return Path(path).absolute().as_uri()


def _path_from_uri(url: str, base_dir: Path) -> Path:
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        p = Path(unquote(parsed.path if parsed.scheme else url))
        return p if p.is_absolute() else (base_dir / p)
    raise InvalidRequest(
        f"The .otio file references {parsed.scheme}:// media; only local files can be rendered.", param="otio_path"
    )


def build_otio(spec: TimelineSpec, available: list[int], fps: int, name: str = "timeline") -> otio.schema.Timeline:
    """The OTIO timeline of a validated spec whose clips all have local paths.

    `available[i]` is how many output-rate frames clip i's video has.
    """
    clips = spec.clips or []
    tl = otio.schema.Timeline(name=name, global_start_time=RT(0, fps))
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    tl.tracks.append(video)
    tl.tracks.append(audio)
    overlaps = [cut_frames(c, fps) for c in clips[:-1]] + [0]
    for i, clip in enumerate(clips):
        first, end = clip_frame_range(clip, available[i], fps)
        lead = overlaps[i - 1] // 2 if i else 0  # the previous transition's in_offset
        after = overlaps[i] - overlaps[i] // 2  # this transition's out_offset
        start, length = first + lead, end - first - lead - after
        for track in (video, audio):
            track.append(_otio_clip(clip, i, available[i], start, length, fps))
            if overlaps[i]:
                track.append(_otio_transition(clip.transition, overlaps[i], fps))  # type: ignore[arg-type]
    _add_titles(video, spec.titles, fps)
    tl.metadata[META] = _timeline_metadata(spec)
    return tl


def _otio_clip(clip: ClipSpec, i: int, available: int, start: int, length: int, fps: int) -> otio.schema.Clip:
    ref = otio.schema.ExternalReference(
        target_url=_uri(clip.path or ""), available_range=TR(RT(0, fps), RT(available, fps))
    )
    return otio.schema.Clip(
        name=f"clip{i}:{Path(clip.path or '').name}",
        media_reference=ref,
        source_range=TR(RT(start, fps), RT(length, fps)),
        metadata={META: {"index": i, "mute": clip.mute, "volume": clip.volume}},
    )


def _otio_transition(t: TransitionSpec, frames: int, fps: int) -> otio.schema.Transition:
    xfade = xfade_name(t)
    kind = otio.schema.TransitionTypes.SMPTE_Dissolve if xfade == "fade" else otio.schema.TransitionTypes.Custom
    return otio.schema.Transition(
        name=t.kind,
        transition_type=kind,
        in_offset=RT(frames // 2, fps),
        out_offset=RT(frames - frames // 2, fps),
        metadata={META: {"xfade": xfade, "kind": t.kind, "direction": t.direction}},
    )


def _add_titles(track: otio.schema.Track, titles: list[TitleSpec], fps: int) -> None:
    """Each title as a marker over the time it shows (to the end of the track by default)."""
    length = round(track.duration().rescaled_to(fps).value)
    for t in titles:
        start = round(t.start_s * fps)
        end = min(length, round(t.end_s * fps)) if t.end_s is not None else length
        marked = TR(RT(start, fps), RT(end - start, fps))
        track.markers.append(otio.schema.Marker(name=t.text[:80], marked_range=marked))


def _timeline_metadata(spec: TimelineSpec) -> dict[str, object]:
    return {
        "titles": [t.model_dump(mode="json") for t in spec.titles],
        "audio_bed": spec.audio_bed.model_dump(mode="json") if spec.audio_bed else None,
        "subtitles_path": spec.subtitles_path,
        "preset": spec.preset,
        "orientation": spec.orientation,
        "fit": spec.fit,
    }


def edit_from_otio(tl: otio.schema.Timeline, fps: int, base_dir: Path | None = None) -> Edit:
    """The frame-exact edit of an OTIO timeline's first video track, at `fps`."""
    base_dir = base_dir or Path.cwd()
    tracks = [t for t in tl.tracks if t.kind == otio.schema.TrackKind.Video]
    if not tracks:
        raise InvalidRequest("The .otio timeline has no video track.", param="otio_path")
    items = list(tracks[0])
    clips: list[PlacedClip] = []
    cuts: list[Cut] = []
    pending_in = 0  # in_offset of the transition before the current clip
    for pos, item in enumerate(items):
        if isinstance(item, otio.schema.Transition):
            if not clips or pos + 1 >= len(items) or not isinstance(items[pos + 1], otio.schema.Clip):
                raise InvalidRequest(f"Transition '{item.name}' must sit between two clips.", param="otio_path")
            in_f, out_f = _frames(item.in_offset, fps), _frames(item.out_offset, fps)
            last = clips[-1]
            clips[-1] = PlacedClip(last.index, last.path, last.src_start, last.frames + out_f, last.mute, last.volume)
            cuts[-1] = Cut(last.index, in_f + out_f, _xfade_of(item))
            pending_in = in_f
        elif isinstance(item, otio.schema.Clip):
            clips.append(_placed(item, len(clips), pending_in, fps, base_dir))
            cuts.append(Cut(len(clips) - 1))
            pending_in = 0
        else:
            raise InvalidRequest(
                f"Item {pos} of the video track is a {type(item).__name__}; only clips and transitions can be rendered "
                "(remove gaps and nested stacks).",
                param="otio_path",
            )
    if not clips:
        raise InvalidRequest("The .otio timeline's video track has no clips.", param="otio_path")
    return Edit(fps=fps, clips=tuple(clips), cuts=tuple(cuts[:-1]))


def _frames(t: otio.opentime.RationalTime, fps: int) -> int:
    return round(t.rescaled_to(fps).value + 1e-9)


def _xfade_of(item: otio.schema.Transition) -> str:
    """The xfade name saved by reelforge, if it is one we make; anything else is a crossfade."""
    meta = item.metadata.get(META) or {}
    name = str(meta.get("xfade") or "fade")
    return name if name in KNOWN_XFADES else "fade"


def _placed(item: otio.schema.Clip, index: int, lead: int, fps: int, base_dir: Path) -> PlacedClip:
    ref = item.media_reference
    if not isinstance(ref, otio.schema.ExternalReference) or not ref.target_url:
        raise InvalidRequest(f"Clip {index} ('{item.name}') has no file reference.", param=f"otio_path: clip {index}")
    rng = item.source_range or ref.available_range
    if rng is None:
        raise InvalidRequest(f"Clip {index} ('{item.name}') has no source range.", param=f"otio_path: clip {index}")
    meta = item.metadata.get(META) or {}
    start = _frames(rng.start_time, fps)
    return PlacedClip(
        index=index,
        path=_path_from_uri(ref.target_url, base_dir),
        src_start=start - lead,
        frames=_frames(rng.duration, fps) + lead,
        mute=bool(meta.get("mute", False)),
        volume=float(meta.get("volume", 1.0)),
    )


def _native_rate(tl: otio.schema.Timeline) -> int:
    """An integer rate at which the file's times are whole numbers (its own, else 48000)."""
    for clip in tl.find_clips():
        rng = clip.source_range
        if rng is not None:
            rate = rng.start_time.rate
            return int(rate) if float(rate).is_integer() else 48000
    return 48000


def read_otio(path: Path) -> otio.schema.Timeline:
    """Read an uploaded .otio file, or explain why it cannot be used."""
    if not path.is_file():
        raise InvalidRequest(f"otio_path {path} does not exist or is not a file.", param="otio_path")
    try:
        tl = otio.adapters.read_from_file(str(path))
    except Exception as exc:  # OTIO raises many unrelated types for bad files
        raise InvalidRequest(
            f"otio_path {path.name} is not a readable OpenTimelineIO file ({type(exc).__name__}).",
            param="otio_path",
            hint="Export the timeline as .otio (OpenTimelineIO JSON) from your editor.",
        ) from None
    if not isinstance(tl, otio.schema.Timeline):
        raise InvalidRequest(f"otio_path {path.name} holds a {type(tl).__name__}, not a Timeline.", param="otio_path")
    return tl


def _clip_spec(edit: Edit, i: int, rate: int) -> ClipSpec:
    """Clip i of an imported edit as a request clip (trims include the transition handles)."""
    placed = edit.clips[i]
    cut = edit.cuts[i] if i < len(edit.cuts) else None
    if placed.src_start < 0:
        raise InvalidRequest(
            f"otio clip {i} starts {-placed.src_start} frames too early: the transition before it needs media "
            "before its source_range start (a handle) that the clip does not have. Shorten that transition "
            "or move the clip's source_range later.",
            param=f"otio_path: clip {i}",
        )
    try:
        return ClipSpec(
            path=str(placed.path),
            in_s=placed.src_start / rate,
            out_s=(placed.src_start + placed.frames) / rate,
            mute=placed.mute,
            volume=placed.volume,
            transition=transition_from_xfade(cut.xfade, cut.frames, rate) if cut and cut.frames else None,
        )
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        from pydantic import ValidationError

        from reelforge.errors import validation_text

        detail = validation_text(exc) if isinstance(exc, ValidationError) else str(exc)  # no pydantic dump
        raise InvalidRequest(f"otio clip {i} cannot be used: {detail}.", param=f"otio_path: clip {i}") from None


def load_otio_spec(spec: TimelineSpec) -> TimelineSpec:
    """Turn a spec naming `otio_path` into the same spec with `clips` (paths set, exact trims).

    Titles, the audio bed and subtitles saved in the file's metadata (by an earlier reelforge
    render) are used when the request does not give its own.
    """
    if spec.otio_path is None:
        return spec
    path = Path(spec.otio_path)
    tl = read_otio(path)
    rate = _native_rate(tl)
    edit = edit_from_otio(tl, rate, base_dir=path.parent.absolute())
    clips = [_clip_spec(edit, i, rate) for i in range(len(edit.clips))]
    update: dict[str, object] = {"clips": clips, "otio_path": None}
    meta = tl.metadata.get(META) or {}
    if not spec.titles and meta.get("titles"):
        update["titles"] = [TitleSpec.model_validate(dict(t)) for t in meta["titles"]]
    if spec.audio_bed is None and meta.get("audio_bed"):
        update["audio_bed"] = AudioBedSpec.model_validate(dict(meta["audio_bed"]))
    if spec.subtitles_path is None and meta.get("subtitles_path"):
        update["subtitles_path"] = str(meta["subtitles_path"])
    # The render's own preset (frame rate), orientation and fit, unless the request sets them: trims
    # are frame-exact at the rate they were cut at, and another rate can round one past a clip's end.
    for key in ("preset", "orientation", "fit"):
        allowed = get_args(TimelineSpec.model_fields[key].annotation)
        if key not in spec.model_fields_set and meta.get(key) in allowed:
            update[key] = meta[key]
    return spec.model_copy(update=update)


def write_otio(tl: otio.schema.Timeline, path: Path) -> Path:
    """Write the sidecar atomically (temp file beside it, then rename)."""
    fd, tmp = tempfile.mkstemp(prefix=".partial-", suffix=".otio", dir=path.parent)
    os.close(fd)
    try:
        otio.adapters.write_to_file(tl, tmp, adapter_name="otio_json")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path
