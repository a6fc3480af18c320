"""ffmpeg argv builders for every step of a render, as pure functions.

Each returns the arguments between the ffmpeg binary and the output path (what `run_ffmpeg`
takes). Video segments are video-only; the sound is built once for the whole timeline
(`reelforge.timeline.audio`) and muxed in the final join.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from reelforge.timeline.filters import conform_chain, overlay_chain
from reelforge.timeline.planner import SegmentInput, VideoSegment
from reelforge.timeline.presets import OutputFormat, video_encoder_args
from reelforge.timeline.spec import Fit

#: Extra source frames read past a segment's end, so a seek that lands a hair late never
#: leaves the segment short (the conform chain trims to the exact count anyway).
_READ_SLACK_FRAMES = 2


def input_args(inp: SegmentInput, fps: int) -> list[str]:
    """Seek (frame-accurate: decoding re-encodes) and read just the frames a segment needs."""
    args = ["-ss", f"{inp.src_frame / fps:.6f}"] if inp.src_frame else []
    # One decoder thread: frame-threaded decoding buffers a frame per thread (memory) and the
    # encoder, not the decoder, is the bottleneck.
    read = ["-t", f"{(inp.frames + _READ_SLACK_FRAMES) / fps:.6f}", "-threads", "1", "-an", "-sn", "-dn"]
    return [*args, *read, "-i", str(inp.clip.path)]


def segment_graph(seg: VideoSegment, fmt: OutputFormat, fit: Fit, overlays: list[str]) -> str:
    """The filter graph of a body (one input) or a transition (two inputs through xfade)."""
    chains = [
        f"[{k}:v]{conform_chain(fmt, fit, inp.frames, square_pixels=inp.square_pixels, in_matrix=inp.matrix)}[c{k}]"
        for k, inp in enumerate(seg.inputs)
    ]
    tail = overlay_chain(overlays, seg.start_frame)
    if seg.kind == "body":
        chains.append(f"[c0]{tail or 'null'}[v]")
    else:
        # offset=0 with both inputs exactly `frames` long: the whole segment is the transition.
        blend = f"xfade=transition={seg.xfade}:duration={seg.frames / fmt.fps:.6f}:offset=0"
        chains.append(f"[c0][c1]{blend},trim=end_frame={seg.frames}{',' + tail if tail else ''}[v]")
    return ";".join(chains)


def segment_args(seg: VideoSegment, fmt: OutputFormat, fit: Fit, overlays: list[str]) -> list[str]:
    """Encode one segment to an MP4 of exactly `seg.frames` frames, no audio."""
    args: list[str] = ["-filter_complex_threads", "1"]  # conform filters are cheap; spare the memory
    for inp in seg.inputs:
        args += input_args(inp, fmt.fps)
    args += ["-filter_complex", segment_graph(seg, fmt, fit, overlays), "-map", "[v]", "-an"]
    # A transition already holds two decoders (and the second one's frames queue while the
    # first seeks); one encoder thread keeps its peak memory near a body's.
    threads = 1 if seg.kind == "transition" else None
    return [*args, *video_encoder_args(fmt, threads), "-frames:v", str(seg.frames)]


def body_with_tail_args(
    seg: VideoSegment, fmt: OutputFormat, fit: Fit, overlays: list[str], tail_frames: int, tail_path: str
) -> list[str]:
    """`segment_args` of a body that also writes the next `tail_frames` conformed frames to
    `tail_path` (raw frames in NUT: exact, and no encoder memory), for the outgoing transition.

    The body job has already decoded up to that point; without this hand-off the transition
    would seek into the clip again, which with a long GOP means decoding it again from its last
    keyframe (often the clip's first frame).
    """
    inp = seg.inputs[0]
    longer = replace(inp, frames=inp.frames + tail_frames)
    chain = conform_chain(fmt, fit, longer.frames, square_pixels=inp.square_pixels, in_matrix=inp.matrix)
    over = overlay_chain(overlays, seg.start_frame)
    graph = (
        f"[0:v]{chain},split[b][t];[b]trim=end_frame={seg.frames}{',' + over if over else ''}[v];"
        f"[t]trim=start_frame={seg.frames},setpts=PTS-STARTPTS[tail]"
    )
    args = ["-filter_complex_threads", "1", *input_args(longer, fmt.fps), "-filter_complex", graph]
    args += ["-map", "[tail]", "-an", "-c:v", "rawvideo", "-f", "nut", tail_path]
    return [*args, "-map", "[v]", "-an", *video_encoder_args(fmt), "-frames:v", str(seg.frames)]


def from_tail(seg: VideoSegment, tail_path: Path) -> VideoSegment:
    """A transition reading its first clip from a body's tail file instead of the source."""
    first = seg.inputs[0]
    # The tail is already conformed and tagged BT.709: its chain is a passthrough.
    tail = SegmentInput(replace(first.clip, path=tail_path), 0, first.frames, True, "bt709")
    return replace(seg, inputs=(tail, *seg.inputs[1:]))


def join_args(list_file: str, audio_file: str | None) -> list[str]:
    """Stream-copy join of segment files (a concat list), muxed with a separate audio file."""
    args = ["-f", "concat", "-safe", "0", "-i", list_file]
    if audio_file is None:
        return [*args, "-map", "0:v", "-map", "0:a?", "-c", "copy", "-movflags", "+faststart"]
    return [*args, "-i", audio_file, "-map", "0:v", "-map", "1:a", "-c", "copy", "-movflags", "+faststart"]


def webm_args(source: str, fmt: OutputFormat) -> list[str]:
    """VP9 + Opus export of the finished MP4 (realtime deadline: fast on two cores)."""
    return [
        "-i", source, "-map", "0:v", "-map", "0:a?", "-c:v", "libvpx-vp9", "-b:v", f"{fmt.bitrate_k}k",
        "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1", "-c:a", "libopus", "-b:a", "128k",
    ]


def gif_args(source: str, fmt: OutputFormat, max_width: int = 480, max_fps: int = 12) -> list[str]:
    """An animated GIF of the finished MP4: reduced rate and width, one optimised palette."""
    fps = min(fmt.fps, max_fps)
    width = min(fmt.width, max_width)
    graph = (
        f"[0:v]fps={fps},scale={width}:-2:flags=lanczos,split[a][b];"
        "[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer:bayer_scale=3[v]"
    )
    return ["-i", source, "-filter_complex", graph, "-map", "[v]", "-an", "-loop", "0"]

