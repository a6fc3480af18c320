"""A hot mix stays under the true-peak ceiling; an optional EBU R128 loudness target is met.

Measured on the written MP4 with ffmpeg's own ebur128 meter (true peak by 4x oversampling),
independently of what the render reports; the report must agree with the file.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import anyio
import pytest

from reelforge.media.ffmpeg import ffmpeg_exe
from reelforge.timeline import render_timeline
from reelforge.timeline.spec import AudioBedSpec, ClipSpec, TimelineSpec, TransitionSpec
from tests.media_utils import make_clip

SMALL = {"preset": "draft", "orientation": "1:1", "fps": 12}


def _loud_clip(path: Path, seconds: float, freq: int) -> Path:
    """A clip whose tone peaks at -12 dBFS (x4 volume takes it to 0 dBFS)."""
    argv = [
        ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c=gray:s=160x90:r=24:d={seconds}",
        "-f", "lavfi", "-i", f"sine=f={freq}:r=48000:d={seconds},volume=2", "-c:v", "libx264", "-preset",
        "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", "-shortest", str(path),
    ]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return path


def _noise_bed(path: Path, seconds: float) -> Path:
    argv = [
        ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"anoisesrc=d={seconds}:c=pink:a=0.35:r=48000",
        "-ac", "2", "-c:a", "aac", str(path),
    ]
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return path


def meter(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) of the file's audio, by ffmpeg's ebur128 filter."""
    out = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-map", "0:a:0",
         "-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stderr
    integrated = float(re.findall(r"I:\s+(-?[\d.]+) LUFS", out)[-1])
    peak = float(re.findall(r"Peak:\s+(-?[\d.]+) dBFS", out)[-1])
    return integrated, peak


@pytest.fixture(scope="module")
def hot_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    d = tmp_path_factory.mktemp("hot")
    return _loud_clip(d / "a.mp4", 2.0, 440), _loud_clip(d / "b.mp4", 2.0, 660), _noise_bed(d / "bed.m4a", 4.0)


def _hot_spec(hot_inputs: tuple[Path, Path, Path], **extra: object) -> TimelineSpec:
    a, b, bed = hot_inputs
    return TimelineSpec(
        clips=[
            ClipSpec(path=str(a), volume=4, transition=TransitionSpec(kind="crossfade", duration_s=0.5)),
            ClipSpec(path=str(b), volume=4),
        ],
        audio_bed=AudioBedSpec(path=str(bed), volume=2, fade_out_s=0),
        **SMALL, **extra,  # type: ignore[arg-type]
    )


def test_hot_mix_stays_under_the_true_peak_ceiling(hot_inputs, tmp_path: Path) -> None:
    spec = _hot_spec(hot_inputs)
    result = anyio.run(lambda: render_timeline(spec, tmp_path / "out", cache_dir=tmp_path / "cache"))
    _, peak = meter(Path(result.path))
    assert peak <= -1.0, f"true peak {peak:+.1f} dBTP is over the default -1 dBTP ceiling"
    assert result.audio_true_peak_dbtp is not None and abs(result.audio_true_peak_dbtp - peak) <= 0.2
    assert result.audio_true_peak_ceiling_dbtp == -1.0


def test_custom_ceiling_is_respected(hot_inputs, tmp_path: Path) -> None:
    spec = _hot_spec(hot_inputs, audio_ceiling_dbtp=-3.0)
    result = anyio.run(lambda: render_timeline(spec, tmp_path / "out", cache_dir=tmp_path / "cache"))
    assert meter(Path(result.path))[1] <= -3.0


def test_loudness_target_is_met_and_reported(hot_inputs, tmp_path: Path) -> None:
    spec = _hot_spec(hot_inputs, loudness_lufs=-23.0)
    result = anyio.run(lambda: render_timeline(spec, tmp_path / "out", cache_dir=tmp_path / "cache"))
    integrated, peak = meter(Path(result.path))
    assert abs(integrated - -23.0) <= 1.0, integrated
    assert peak <= -1.0
    assert result.audio_loudness_lufs is not None and abs(result.audio_loudness_lufs - integrated) <= 0.3


@pytest.mark.slow
def test_copy_plan_with_hot_clips_is_redone_through_the_limiter(clip_a: Path, tmp_path: Path) -> None:
    # A clip that already matches the output exactly (our own render), its sound replaced by a
    # tone that peaks near +6 dBTP: joining such clips by stream copy would pass the peaks on.
    one = anyio.run(lambda: render_timeline(
        TimelineSpec(clips=[ClipSpec(path=str(clip_a))], **SMALL), tmp_path / "one", cache_dir=tmp_path / "cache"))
    hot = tmp_path / "hot.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-i", one.path, "-f", "lavfi", "-i", "sine=f=997:r=48000:d=2,volume=16",
         "-map", "0:v", "-map", "1:a", "-c:v", "copy", "-c:a", "aac", "-ar", "48000", "-ac", "2", "-shortest", str(hot)],
        check=True, capture_output=True, timeout=120,
    )
    assert meter(hot)[1] > 0.0
    spec = TimelineSpec(clips=[ClipSpec(path=str(hot)), ClipSpec(path=str(hot))], **SMALL)
    result = anyio.run(lambda: render_timeline(spec, tmp_path / "out", cache_dir=tmp_path / "cache"))
    assert result.plan == "audio_only" and result.segments_rendered == 0  # the picture is still copied
    assert meter(Path(result.path))[1] <= -1.0


def test_loudness_target_on_a_silent_timeline_adds_no_gain(tmp_path: Path) -> None:
    silent = make_clip(tmp_path / "silent.mp4", 1.0, (160, 90), 24, audio=False)
    spec = TimelineSpec(clips=[ClipSpec(path=str(silent))], loudness_lufs=-16.0, **SMALL)
    result = anyio.run(lambda: render_timeline(spec, tmp_path / "out", cache_dir=tmp_path / "cache"))
    assert result.audio_gain_db == 0.0 and result.audio_loudness_lufs is None
    assert any("silent" in note for note in result.notes), result.notes
