"""Flash-and-beep clips and the measurement of picture/sound offset in a written file.

A flash-and-beep clip is black with one white frame every `period` frames and a short 1 kHz
beep starting at exactly the same instant. After an edit, each flash frame's time and the
onset of the nearest beep are read back from the decoded output: their difference is the
A/V offset an editor sees (positive = picture leads sound).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np


def make_flash_beep(path: Path, seconds: float, fps: int, period: int, size: tuple[int, int] = (160, 90)) -> Path:
    """Black video with a white frame every `period` frames and a 30 ms beep at each flash."""
    w, h = size
    frames = round(seconds * fps)
    video = (
        f"color=c=black:size={w}x{h}:rate={fps},"
        f"geq=lum='if(eq(mod(N\\,{period})\\,0)\\,235\\,16)':cb=128:cr=128,trim=end_frame={frames}"
    )
    # The beep starts at each flash's time n/fps (sample-exact at 48 kHz for 24/25 fps).
    beep = (
        f"aevalsrc='if(lt(mod(n\\,{48000 * period // fps})\\,1440)\\,0.5*sin(2*PI*1000*t)\\,0)':"
        f"s=48000:d={seconds}"
    )
    argv = [
        imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error",
        "-f", "lavfi", "-i", video, "-f", "lavfi", "-i", beep, "-map", "0:v", "-map", "1:a",
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", "-r", str(fps),
        "-c:a", "aac", "-ac", "2", str(path),
    ]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return path


def flash_times(path: Path) -> list[float]:
    """Times (s) at which a flash first shows: a bright frame after a dark one, from the decode.

    A rate change may show one source flash on two output frames; the first one is the onset.
    """
    times, previous = [], False
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        start = float(v.start_time * v.time_base) if v.start_time is not None else 0.0
        for f in c.decode(v):
            luma = f.to_ndarray(format="gray")
            bright = float(luma.mean()) > 128
            if bright and not previous:
                times.append(float(f.pts * v.time_base) - start)
            previous = bright
    return times


def beep_onsets(path: Path) -> list[float]:
    """Onset times (s) of the beeps: the first loud sample after at least 50 ms of quiet."""
    chunks, start = [], None
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        rate = a.codec_context.sample_rate
        for f in c.decode(a):
            if start is None:
                start = float(f.pts * a.time_base) if f.pts is not None else 0.0
            chunks.append(np.abs(f.to_ndarray()).max(axis=0))
    level = np.concatenate(chunks)
    # The video stream's start is the reference (mp4 audio with priming starts at 0 after the edit list).
    loud = np.flatnonzero(level > 0.1)
    onsets, last = [], -10**9
    for i in loud:
        if i - last > 0.05 * rate:
            onsets.append(start + i / rate)
        last = i
    return onsets


def av_offsets(path: Path) -> list[float]:
    """For each flash, beep onset minus flash time (s): > 0 means the picture leads the sound."""
    beeps = np.array(beep_onsets(path))
    out = []
    for t in flash_times(path):
        if len(beeps):
            nearest = beeps[np.argmin(np.abs(beeps - t))]
            out.append(float(nearest - t))
    return out
