"""Probe a video file with PyAV (there is no ffprobe in the bundled ffmpeg).

Frame counts are exact: containers that do not store one (MKV, WebM report `frames == 0`) are
counted by demuxing packets, which costs about 1 ms per 100 frames. Every value is copied out
of the container inside the `with` block: touching a PyAV stream after its container is closed
crashes the interpreter instead of raising.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
from pydantic import BaseModel, ConfigDict

from reelforge.errors import InvalidRequest, MediaError

logger = logging.getLogger(__name__)

#: Demuxers that hold a single still image, not a video.
_IMAGE_FORMAT_SUFFIX = "_pipe"
_IMAGE_FORMATS = {"image2", "apng"}
#: average vs guessed frame rate differing by more than this marks variable frame rate.
_VFR_TOLERANCE = 0.01


class MediaInfo(BaseModel):
    """What a video file really contains, measured from the file itself."""

    model_config = ConfigDict(frozen=True)

    path: str
    size_bytes: int
    duration_s: float
    frames: int
    fps: float
    width: int
    height: int
    codec: str
    pix_fmt: str | None = None
    profile: str | None = None
    bit_rate: int | None = None
    has_audio: bool = False
    audio_codec: str | None = None
    audio_duration_s: float | None = None
    sample_rate: int | None = None
    sample_aspect_ratio: str | None = None
    vfr: bool = False


def _open(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise InvalidRequest(f"No file at {path}.", param="path", hint="Pass the path of an existing video file.")
    if not path.is_file():
        raise InvalidRequest(f"{path} is not a file.", param="path", hint="Pass the path of a video file.")
    if path.stat().st_size == 0:
        raise MediaError(f"{path.name} is empty (0 bytes); it is not a playable video.")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise MediaError(f"{path.name} could not be read as a video ({exc.__class__.__name__}); "
                         "the file is damaged or not a media file.") from None


def _count_video_packets(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> tuple[int, float | None]:
    """(frame count, end time in seconds) by demuxing; skips the size-0 flush packet."""
    count, end = 0, None
    for packet in container.demux(stream):
        if packet.size == 0:
            continue
        count += 1
        if packet.pts is not None and packet.time_base is not None:
            packet_end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            end = packet_end if end is None else max(end, packet_end)
    return count, end


def _stream_seconds(stream: av.stream.Stream) -> float | None:
    if stream.duration is None or stream.time_base is None:
        return None
    return float(stream.duration * stream.time_base)


def _video_fields(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> dict:
    ctx = stream.codec_context
    avg, guessed = stream.average_rate, stream.guessed_rate
    rate = avg or guessed or Fraction(0)
    vfr = bool(avg and guessed and abs(float(avg) - float(guessed)) > _VFR_TOLERANCE * float(guessed))
    sar = stream.sample_aspect_ratio
    fields = {
        "fps": float(rate),
        "width": ctx.width,
        "height": ctx.height,
        "codec": ctx.name,
        "pix_fmt": ctx.pix_fmt,
        "profile": ctx.profile,
        "bit_rate": stream.bit_rate or container.bit_rate or None,
        "sample_aspect_ratio": f"{sar.numerator}:{sar.denominator}" if sar else None,
        "vfr": vfr,
    }
    frames, duration = stream.frames, _stream_seconds(stream)
    if frames == 0 or duration is None:
        counted, end = _count_video_packets(container, stream)
        frames = frames or counted
        start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
        if duration is None and rate and not vfr:
            duration = frames / float(rate)  # exact for CFR; MKV packet times are rounded to 1 ms
        elif duration is None and end is not None:
            duration = end - start
    if duration is None:
        duration = container.duration / 1e6 if container.duration else (frames / float(rate) if rate else 0.0)
    fields.update(frames=frames, duration_s=round(duration, 6))
    return fields


def _audio_fields(container: av.container.InputContainer) -> dict:
    if not container.streams.audio:
        return {"has_audio": False}
    stream = container.streams.audio[0]
    duration = _stream_seconds(stream)
    if duration is None and container.duration:
        duration = container.duration / 1e6  # MKV/WebM: the container length is the best we have
    return {
        "has_audio": True,
        "audio_codec": stream.codec_context.name,
        "audio_duration_s": round(duration, 6) if duration is not None else None,
        "sample_rate": stream.codec_context.sample_rate,
    }


def probe(path: Path | str) -> MediaInfo:
    """Measure a video file: exact frame count, duration, rate, size, codec and audio.

    Raises `InvalidRequest` when the path is missing or holds no video (a still image or an
    audio-only file), and `MediaError` when the file is empty or cannot be decoded.
    """
    path = Path(path)
    with _open(path) as container:
        fmt = container.format.name
        if fmt in _IMAGE_FORMATS or fmt.endswith(_IMAGE_FORMAT_SUFFIX):
            raise InvalidRequest(f"{path.name} is a still image, not a video.", param="path",
                                 hint="Pass a video file (mp4, mov, mkv, webm); images belong in "
                                      "first_frame/last_frame.")
        if not container.streams.video:
            raise InvalidRequest(f"{path.name} has no video stream (audio only?).", param="path",
                                 hint="Pass a file that contains video.")
        video = _video_fields(container, container.streams.video[0])
        audio = _audio_fields(container)
    if video["frames"] == 0:
        raise MediaError(f"{path.name} has a video stream with no frames.")
    info = MediaInfo(path=str(path.absolute()), size_bytes=path.stat().st_size, **video, **audio)
    logger.debug("probed %s: %s", path.name, info)
    return info
