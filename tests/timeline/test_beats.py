"""Beat and bar detection (`reelforge.timeline.beats`) against beds whose beats are known.

Tempo within 1 BPM and every beat within a few ms on click tracks at several tempi, with and
without noise and chords; the accented beat found as the bar start; a bed with no pulse refused
naming the field. The beds are written to WAV and decoded through PyAV like a real bed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reelforge.errors import InvalidRequest
from reelforge.timeline.beats import NoSteadyBeat, beat_grid, detect_beats
from tests.timeline.music_utils import chords_and_noise, click_track, drum_loop, write_wav


def _worst_miss(found: tuple[float, ...], truth: np.ndarray) -> float:
    """Largest distance (s) from a true beat to the nearest detected one."""
    got = np.array(found)
    return max(float(np.min(np.abs(got - t))) for t in truth)


@pytest.mark.parametrize("bpm", [60, 75, 96, 120, 128, 150, 174, 200])
def test_click_track_tempo_and_beats(bpm: float, tmp_path: Path) -> None:
    y, truth = click_track(bpm, 16.0, first_s=0.137)
    grid = detect_beats(write_wav(tmp_path / "clicks.wav", y))
    assert abs(grid.tempo_bpm - bpm) < 1.0, grid.tempo_bpm
    # Every beat once (a click cut off by the file's end, in its last 10 ms, may be missed).
    assert len(truth) - (truth[-1] > 15.99) <= len(grid.beats) <= len(truth)
    assert _worst_miss(grid.beats, truth[truth < 15.99]) < 0.005
    assert grid.clarity > 0.8


@pytest.mark.parametrize(("bpm", "noise"), [(90, 0.1), (120, 0.2), (140, 0.15)])
def test_click_track_under_noise_and_chords(bpm: float, noise: float) -> None:
    y, truth = click_track(bpm, 20.0, first_s=0.31)
    grid = beat_grid(chords_and_noise(y, noise=noise))
    assert abs(grid.tempo_bpm - bpm) < 1.0, grid.tempo_bpm
    assert _worst_miss(grid.beats, truth) < 0.015
    # No invented beats either: as many as the bed has.
    assert abs(len(grid.beats) - len(truth)) <= 1


@pytest.mark.parametrize("bpm", [100, 124])
def test_tonal_drum_loop(bpm: float) -> None:
    y, truth = drum_loop(bpm, 20.0)
    grid = beat_grid(y)
    assert abs(grid.tempo_bpm - bpm) < 1.0, grid.tempo_bpm
    assert _worst_miss(grid.beats, truth) < 0.03  # a kick's onset is soft next to a click's


def test_bars_start_on_the_accented_beat() -> None:
    # The accent falls on the 3rd click (first_s puts two unaccented clicks before it).
    y, truth = click_track(120, 16.0, first_s=0.5, accent_every=4)
    grid = beat_grid(np.concatenate([np.zeros(11025, np.float32), y]), beats_per_bar=4)
    accented = truth[::4] + 0.5
    assert len(grid.downbeats) == len(accented)
    assert max(abs(a - b) for a, b in zip(grid.downbeats, accented)) < 0.005
    assert grid.downbeats[0] == pytest.approx(1.0, abs=0.005)


def test_bars_of_three() -> None:
    y, truth = click_track(90, 12.0, first_s=0.2, accent_every=3)
    grid = beat_grid(y, beats_per_bar=3)
    assert np.allclose(grid.downbeats, truth[::3], atol=0.005)


@pytest.mark.parametrize("kind", ["noise", "tone", "silence", "short"])
def test_no_steady_beat_is_refused(kind: str) -> None:
    rng = np.random.default_rng(7)
    n = 22050 * 10
    y = {
        "noise": 0.3 * rng.standard_normal(n),
        "tone": 0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / 22050),
        "silence": np.zeros(n),
        "short": click_track(120, 1.5)[0],
    }[kind].astype(np.float32)
    with pytest.raises(NoSteadyBeat) as err:
        beat_grid(y)
    assert isinstance(err.value, InvalidRequest)
    assert err.value.param == "audio_bed.cut_to"
    assert "audio_bed.cut_to" in err.value.message
    assert "null" in (err.value.hint or "")
