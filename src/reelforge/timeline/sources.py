"""What the engine needs to know about each input file, measured once per render.

`probe` (PyAV) gives duration, rate, size and audio. The stream-copy planner also needs the
exact encoder signature: two H.264 streams can be joined with `-c copy` only when codec,
profile, size, pixel format, rate, time base, sample aspect ratio and the parameter sets
(extradata) are identical. ffmpeg itself happily copy-joins mismatched streams (rc 0) into a
file players choke on, so the gate has to be exact.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from fractions import Fraction
from pathlib import Path

import av

from reelforge.errors import InvalidRequest
from reelforge.media import probe as _probe
from reelforge.media.probe import MediaInfo, probe


#: Fraction of a frame by which a probed duration may fall short and still count the frame.
FRAME_TOLERANCE = 1e-3

#: FFmpeg's AVCOL_SPC_UNSPECIFIED: the stream does not say which YUV matrix it uses.
_UNSPECIFIED = 2


@dataclass(frozen=True)
class StreamSignature:
    """Everything that must be equal for two files to be stream-copy joinable."""

    codec: str
    profile: str | None
    width: int
    height: int
    pix_fmt: str | None
    rate: Fraction
    time_base: Fraction
    sar: Fraction
    extradata_sha: str
    #: (primaries, transfer, matrix, range) as FFmpeg enum values; BT.709 limited is (1, 1, 1, 1).
    colour: tuple[int, int, int, int]
    audio: tuple[str, int, int] | None  # (codec, sample rate, channels)


@dataclass(frozen=True)
class SourceMedia:
    """One input: its probe, its copy signature, and a cheap fingerprint for cache keys."""

    path: Path
    info: MediaInfo
    signature: StreamSignature

    @cached_property
    def fingerprint(self) -> str:
        """Content fingerprint, computed only when a cache key needs it (not on the copy path)."""
        return file_fingerprint(self.path)

    def available_frames(self, fps: int) -> int:
        """Whole output-rate frames the video stream covers."""
        # Probed durations are rounded to the microsecond (1/30 s -> 0.033333), so allow a
        # thousandth of a frame: a 1-frame 30 fps clip is one frame at 30 fps, not zero.
        return int(self.info.duration_s * fps + FRAME_TOLERANCE)

    @property
    def has_audio(self) -> bool:
        return self.info.has_audio

    @property
    def colour_matrix(self) -> str:
        """The YUV matrix to decode with: the stream's tag, else the HD/SD convention.

        swscale assumes BT.601 for untagged video; players assume BT.709 for HD (720 lines and
        up). Following the players keeps colours as viewers saw them, and an untagged HD source
        then needs no matrix conversion at all (the scaler passes frames through).
        """
        matrix = self.signature.colour[2]
        if matrix != _UNSPECIFIED:
            return "auto"
        return "bt709" if self.signature.height >= 720 else "bt601"


def file_fingerprint(path: Path) -> str:
    """A content fingerprint: size, mtime and hashes of the first and last MiB.

    Hashing whole multi-GB videos on every render would cost more than many segment renders;
    size + mtime + head/tail bytes changes whenever the file is re-rendered or replaced.
    """
    st = path.stat()
    h = hashlib.sha256(f"{st.st_size}:{st.st_mtime_ns}".encode())
    with path.open("rb") as f:
        h.update(f.read(1 << 20))
        if st.st_size > 2 << 20:
            f.seek(-(1 << 20), 2)
            h.update(f.read(1 << 20))
    return h.hexdigest()


def _signature(container: av.container.InputContainer) -> StreamSignature:
    """The stream-copy signature of an open file's first video (and audio) stream."""
    v = container.streams.video[0]
    ctx = v.codec_context
    audio = None
    if container.streams.audio:
        a = container.streams.audio[0].codec_context
        audio = (a.name, a.sample_rate, a.channels)
    # Copy every value out while the container is open: touching a stream after close crashes.
    return StreamSignature(
        codec=ctx.name,
        profile=ctx.profile,
        width=ctx.width,
        height=ctx.height,
        pix_fmt=ctx.pix_fmt,
        rate=Fraction(v.average_rate or 0),
        time_base=Fraction(v.time_base or 0),
        sar=Fraction(v.sample_aspect_ratio or 1) or Fraction(1),
        extradata_sha=hashlib.sha256(bytes(ctx.extradata or b"")).hexdigest(),
        colour=(int(ctx.color_primaries), int(ctx.color_trc), int(ctx.colorspace), int(ctx.color_range)),
        audio=audio,
    )


def read_signature(path: Path) -> StreamSignature:
    """The stream-copy signature of a file (opens it)."""
    with av.open(str(path)) as container:
        return _signature(container)


def _probe_once(path: Path) -> tuple[MediaInfo, StreamSignature] | None:
    """Probe and signature from a single open of an ordinary video file, else None.

    Opening a file costs about as much as the whole cuts-only render's Python side, so this
    reuses `media.probe`'s field readers on one open container. Anything unusual (no video, a
    still image, no frames, an unreadable file) returns None, and the caller runs `probe()` itself,
    which raises the proper error.
    """
    try:
        with av.open(str(path)) as c:
            fmt = c.format.name
            if not c.streams.video or fmt in _probe._IMAGE_FORMATS or fmt.endswith(_probe._IMAGE_FORMAT_SUFFIX):
                return None
            video = _probe._video_fields(c, c.streams.video[0])
            audio = _probe._audio_fields(c)
            signature = _signature(c)
    except (av.error.FFmpegError, UnicodeDecodeError):
        return None
    if video["frames"] == 0:
        return None
    return MediaInfo(path=str(path), size_bytes=path.stat().st_size, **video, **audio), signature


@dataclass(frozen=True)
class AudioSource:
    """An audio bed: any file with an audio stream (music, voice-over, or a video's sound)."""

    path: Path
    duration_s: float
    fingerprint: str


def inspect_audio(path: Path | str, param: str = "audio_bed.path") -> AudioSource:
    """Check that a file has an audio stream and measure it (blocking)."""
    path = Path(path).absolute()
    if not path.is_file():
        raise InvalidRequest(f"{param} {path} does not exist or is not a file.", param=param)
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise InvalidRequest(f"{param} {path.name} has no audio stream.", param=param)
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            else:
                duration = (container.duration or 0) / 1e6
    except av.error.FFmpegError:
        raise InvalidRequest(f"{param} {path.name} could not be read as audio.", param=param) from None
    if duration <= 0:
        raise InvalidRequest(f"{param} {path.name} has an empty audio stream.", param=param)
    return AudioSource(path=path, duration_s=duration, fingerprint=file_fingerprint(path))


def inspect_source(path: Path | str) -> SourceMedia:
    """Probe one input file (blocking; run it in a worker thread)."""
    path = Path(path).absolute()
    once = _probe_once(path) if path.is_file() and path.stat().st_size > 0 else None
    if once is None:
        return SourceMedia(path=path, info=probe(path), signature=read_signature(path))
    return SourceMedia(path=path, info=once[0], signature=once[1])
