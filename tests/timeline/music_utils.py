"""Synthetic music beds with known beats: click tracks, clicks under noise and chords, a drum loop.

Each returns the samples (mono float32) and the true beat times, so detection is checked against
ground truth written here, not against the detector's own output. `write_wav` stores them as
16-bit PCM (stdlib `wave`), which the engine decodes like any other bed.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np


def click_track(
    bpm: float, seconds: float, *, rate: int = 22050, first_s: float = 0.0, accent_every: int = 0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """10 ms decaying noise bursts on every beat (louder every `accent_every` beats, if set)."""
    rng = np.random.default_rng(seed)
    y = np.zeros(int(seconds * rate), np.float32)
    n = int(0.01 * rate)
    shape = np.exp(-np.arange(n) / (0.003 * rate)).astype(np.float32)
    times = np.arange(first_s, seconds, 60.0 / bpm)
    for k, t in enumerate(times):
        i = int(round(t * rate))
        amp = 0.8 if not accent_every or k % accent_every == 0 else 0.35
        burst = amp * rng.standard_normal(n).astype(np.float32) * shape
        y[i : i + n] += burst[: len(y) - i]
    return y, times


def chords_and_noise(y: np.ndarray, *, rate: int = 22050, noise: float = 0.1, seed: int = 1) -> np.ndarray:
    """`y` under a sustained three-note chord that changes every 1.3 s, plus white noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(len(y)) / rate
    roots = np.array([220.0, 196.0, 175.0, 247.0])[(t // 1.3).astype(int) % 4]
    pad = sum(np.sin(2 * np.pi * roots * r * t) for r in (1.0, 1.26, 1.5)) * 0.1
    return (y + pad + noise * rng.standard_normal(len(y))).astype(np.float32)


def drum_loop(bpm: float, seconds: float, *, rate: int = 22050, first_s: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """A kick (pitched-down sine thump) on every beat and a quieter chord pad: a tonal bed."""
    n = int(seconds * rate)
    y = np.zeros(n, np.float32)
    times = np.arange(first_s, seconds, 60.0 / bpm)
    k_len = int(0.25 * rate)
    k_t = np.arange(k_len) / rate
    kick = 0.7 * np.sin(2 * np.pi * (55 * k_t + 2.0 * (1 - np.exp(-k_t / 0.02)))) * np.exp(-k_t / 0.06)
    for t in times:
        i = int(round(t * rate))
        y[i : i + k_len] += kick[: n - i].astype(np.float32)
    return chords_and_noise(y, rate=rate, noise=0.02), times


def write_wav(path: Path, y: np.ndarray, rate: int = 22050) -> Path:
    """16-bit mono PCM."""
    pcm = (np.clip(y, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path
