"""The timeline's sound as one audio-only ffmpeg job: clip audio, crossfades, silence, the bed.

Audio is cheap to process in one graph (a few MB per minute), so unlike video it is not cut
into segments. Every clip contributes exactly its used frames' worth of samples: its own sound
(resampled to 48 kHz stereo, padded or trimmed to the sample), or synthesised silence when it
has none or is muted, so `[i:a]` never breaks on a clip without audio. Clips joined by a video
transition are joined by an equal-power `acrossfade` of the same length; cuts are concatenated
with 5 ms de-click fades on both sides. The bed is looped, trimmed to the timeline's exact
length (it never makes the video shorter or longer), faded and mixed under without
normalisation (amix would otherwise halve the clips). The mix ends in a true-peak limiter.
"""

from __future__ import annotations

from pathlib import Path

from reelforge.timeline.edit import Edit
from reelforge.timeline.loudness import DEFAULT_CEILING_DBTP, gain_chain, limiter_chain
from reelforge.timeline.presets import AUDIO_RATE, audio_encoder_args
from reelforge.timeline.spec import AudioBedSpec

#: Length of the de-click fades at hard cuts (ms): inaudible as a fade, enough to remove a click.
DECLICK_MS = 5

#: first_pts=0 places the sound where its timestamps say, relative to the input's start (or
#: seek point), padding with silence or trimming, like the picture's `fps=...:start_time=0`:
#: a source whose sound starts late keeps that offset instead of being pulled to the picture.
_FORMAT = f"aresample={AUDIO_RATE}:first_pts=0,aformat=sample_fmts=fltp:channel_layouts=stereo"


def samples(frames: int, fps: int) -> int:
    """Audio samples covering `frames` video frames (exact when fps divides 48000)."""
    return round(frames * AUDIO_RATE / fps)


def _declick(edit: Edit, i: int, n: int) -> str:
    """Short fades at clip i's hard edges (not those inside a crossfade), or nothing.

    A cut lands anywhere in a waveform; without them the jump between the two clips' samples
    is an audible click. Sample-exact, so the clip keeps its length.
    """
    fade = min(AUDIO_RATE * DECLICK_MS // 1000, n // 2)
    if fade < 1:
        return ""
    steps = []
    if edit.overlap_before(i) == 0:
        steps.append(f"afade=t=in:start_sample=0:nb_samples={fade}")
    if edit.overlap_after(i) == 0:
        steps.append(f"afade=t=out:start_sample={n - fade}:nb_samples={fade}")
    return "".join("," + step for step in steps)


def _clip_source(edit: Edit, i: int, has_audio: bool, inputs: list[list[str]]) -> str:
    """Filter chain producing clip i's sound as [a{i}], adding its input to `inputs` if used."""
    clip = edit.clips[i]
    n = samples(clip.frames, edit.fps)
    if not has_audio or clip.mute or clip.volume == 0:
        return f"anullsrc=r={AUDIO_RATE}:cl=stereo,atrim=end_sample={n}[a{i}]"
    k = len(inputs)
    seek = ["-ss", f"{clip.src_start / edit.fps:.6f}"] if clip.src_start else []
    inputs.append([*seek, "-t", f"{(clip.frames + 2) / edit.fps:.6f}", "-vn", "-sn", "-dn", "-i", str(clip.path)])
    volume = f",volume={clip.volume:g}" if clip.volume != 1.0 else ""
    return f"[{k}:a]{_FORMAT},apad,atrim=end_sample={n}{volume}{_declick(edit, i, n)}[a{i}]"


def _join_chain(edit: Edit) -> tuple[list[str], str]:
    """Chains joining [a0]..[aN] left to right; returns (chains, label of the result).

    Crossfades are equal-power (quarter-sine curves, gains cos/sin: their powers add up to 1),
    so two different sounds keep their level through the fade; linear curves dip by 3 dB.
    """
    chains, current = [], "a0"
    for i, cut in enumerate(edit.cuts):
        out = f"j{i}"
        if cut.frames > 0:
            ns = samples(cut.frames, edit.fps)
            chains.append(f"[{current}][a{i + 1}]acrossfade=ns={ns}:c1=qsin:c2=qsin[{out}]")
        else:
            chains.append(f"[{current}][a{i + 1}]concat=n=2:v=0:a=1[{out}]")
        current = out
    return chains, current


def _bed_chain(bed: AudioBedSpec, k: int, total: int, duration_s: float) -> str:
    steps = [f"[{k}:a]{_FORMAT}", "apad", f"atrim=end_sample={total}"]
    if bed.fade_in_s > 0:
        steps.append(f"afade=t=in:st=0:d={bed.fade_in_s:g}")
    if bed.fade_out_s > 0:
        steps.append(f"afade=t=out:st={max(0.0, duration_s - bed.fade_out_s):.6f}:d={bed.fade_out_s:g}")
    steps.append(f"volume={bed.volume:g}")
    return ",".join(steps) + "[bed]"


def timeline_audio_args(
    edit: Edit,
    has_audio: list[bool],
    bed: AudioBedSpec | None = None,
    bed_path: Path | None = None,
    *,
    ceiling_dbtp: float | None = DEFAULT_CEILING_DBTP,
    gain_db: float = 0.0,
    limiter_margin_db: float | None = None,
) -> list[str]:
    """Arguments for an AAC file holding the whole timeline's sound, exactly as long as its video.

    The mix gets `gain_db` (a loudness target's correction) and then a true-peak limiter at
    `ceiling_dbtp` (None: no limiter), so clip volumes and a bed can never add up to clipping.
    """
    inputs: list[list[str]] = []
    chains = [_clip_source(edit, i, has_audio[i], inputs) for i in range(len(edit.clips))]
    joins, label = _join_chain(edit)
    chains += joins
    total = samples(edit.total_frames, edit.fps)
    chains.append(f"[{label}]apad,atrim=end_sample={total}[tl]")
    final = "tl"
    if bed is not None and bed_path is not None:
        loop = ["-stream_loop", "-1"] if bed.loop else []
        inputs.append([*loop, "-vn", "-sn", "-dn", "-i", str(bed_path)])
        chains.append(_bed_chain(bed, len(inputs) - 1, total, edit.total_frames / edit.fps))
        chains.append(f"[tl][bed]amix=inputs=2:duration=first:normalize=0,atrim=end_sample={total}[mix]")
        final = "mix"
    master = [gain_chain(gain_db)] if gain_chain(gain_db) else []
    if ceiling_dbtp is not None:
        margin = {} if limiter_margin_db is None else {"margin_db": limiter_margin_db}
        master.append(limiter_chain(ceiling_dbtp, **margin))
    if master:
        # Padded and trimmed again: resampling may end a few samples early or late.
        chains.append(f"[{final}]{','.join(master)},apad,atrim=end_sample={total}[master]")
        final = "master"
    flat = [arg for one in inputs for arg in one]
    return [*flat, "-filter_complex", ";".join(chains), "-map", f"[{final}]", "-vn", *audio_encoder_args()]
