"""Text in any script: which bundled font draws which characters, in what order, how wide.

Titles and preview cards are drawn by ffmpeg's `drawtext` from the bundled static binary, which
shapes with HarfBuzz and reorders right-to-left text with FriBiDi itself (no system library or
font is needed). But `drawtext` takes one font file, and no single font covers every script. So
this module splits each line into runs that one font can draw, puts the runs in visual order
(a simplified Unicode bidi: a right-to-left word inside Latin text, or Latin inside Arabic) and
measures them with HarfBuzz (uharfbuzz, the shaper `drawtext` uses), so each run gets its own
`drawtext` at the right x.

Fonts (in `reelforge/timeline/fonts`, see its README for coverage and sources): DejaVu Sans for
Latin, Greek and Cyrillic (and as the fallback for symbols), Noto Sans Arabic, Hebrew and
Devanagari, and a subset of Noto Sans CJK SC (common Chinese, Japanese and Korean characters).
A character none of them has is left out, never drawn as the missing-glyph box, and reported so
the caller can put it in the job's notes. Nothing is loaded at import; fonts load on first use.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PRIMARY = "DejaVuSans.ttf"
_SCRIPT_FONTS = {
    "arabic": "NotoSansArabic-Regular.ttf",
    "hebrew": "NotoSansHebrew-Regular.ttf",
    "devanagari": "NotoSansDevanagari-Regular.ttf",
    "cjk": "NotoSansCJKsc-Regular-subset.otf",
}
#: Code point ranges whose characters prefer a script font over the primary one (which may
#: have a few of them, but without that script's joining or conjunct rules).
_SCRIPT_RANGES = (
    (0x0590, 0x05FF, "hebrew"), (0xFB1D, 0xFB4F, "hebrew"),
    (0x0600, 0x06FF, "arabic"), (0x0750, 0x077F, "arabic"), (0x08A0, 0x08FF, "arabic"),
    (0xFB50, 0xFDFF, "arabic"), (0xFE70, 0xFEFE, "arabic"),
    (0x0900, 0x097F, "devanagari"), (0xA8E0, 0xA8FF, "devanagari"), (0x1CD0, 0x1CFF, "devanagari"),
    (0x1100, 0x11FF, "cjk"), (0x2E80, 0x9FFF, "cjk"), (0xAC00, 0xD7AF, "cjk"), (0xF900, 0xFAFF, "cjk"),
    (0xFE30, 0xFE4F, "cjk"), (0xFF00, 0xFFEF, "cjk"), (0x20000, 0x3FFFF, "cjk"),
)
#: Zero-width joiners steer Arabic and Indic shaping; HarfBuzz hides them, so they never count
#: as missing.
_JOINERS = {0x200C, 0x200D}
_VIRAMA = {0x094D}  # a Devanagari consonant after a virama belongs to the same cluster


def fonts_dir() -> Path:
    from importlib import resources

    # resources of the top package only: importing reelforge.timeline from media/ would be a cycle
    return Path(str(resources.files("reelforge") / "timeline" / "fonts"))


@dataclass(frozen=True)
class _Font:
    path: Path
    codepoints: frozenset[int]
    upem: int
    hb_font: object  # uharfbuzz.Font (thread-safe once made)

    def covers(self, cp: int) -> bool:
        return cp in self.codepoints or cp in _JOINERS


@lru_cache(maxsize=16)
def _load(path: str) -> _Font:
    import uharfbuzz as hb

    face = hb.Face(Path(path).read_bytes())
    return _Font(Path(path), frozenset(face.unicodes), face.upem, hb.Font(face))


@lru_cache(maxsize=16)
def _chain(primary: str | None) -> tuple[_Font, dict[str, _Font], tuple[_Font, ...]]:
    """(the font asked for, the script fonts, every font in fallback order)."""
    base = fonts_dir()
    first = _load(primary or str(base / PRIMARY))
    scripts = {name: _load(str(base / file)) for name, file in _SCRIPT_FONTS.items()}
    order = [first, *scripts.values()]
    if primary is not None and Path(primary).name != PRIMARY:
        order.append(_load(str(base / PRIMARY)))  # symbols a custom or bold font lacks
    return first, scripts, tuple(order)


def _script(cp: int) -> str | None:
    for lo, hi, name in _SCRIPT_RANGES:
        if lo <= cp <= hi:
            return name
    return None


def _bundled(font: _Font) -> bool:
    return font.path.parent == fonts_dir()


def _pick(cp: int, primary: _Font, scripts: dict[str, _Font], order: tuple[_Font, ...]) -> _Font | None:
    # A caller's own font wins when it has the character; a bundled one yields to the script's font.
    if not _bundled(primary) and primary.covers(cp):
        return primary
    preferred = scripts.get(_script(cp) or "")
    if preferred is not None and preferred.covers(cp):
        return preferred
    return next((f for f in order if f.covers(cp)), None)


def _attaches(ch: str) -> bool:
    """Marks, spaces, digits and punctuation stay in the current run when its font has them."""
    return not unicodedata.category(ch).startswith("L")


def _visible(ch: str) -> bool:
    """Worth naming when left out: not a control, format character, combining mark, variation
    selector or skin-tone modifier (those go with a base character that is named)."""
    cat = unicodedata.category(ch)
    return not (cat in ("Cf", "Mn", "Me", "Cc", "Zs") or 0xFE00 <= ord(ch) <= 0xFE0F or 0x1F3FB <= ord(ch) <= 0x1F3FF)


@dataclass
class _Seg:
    text: str
    font: _Font
    direction: str | None  # "L", "R" or None (neutral: spaces, digits, punctuation)


def _direction(ch: str) -> str | None:
    bidi = unicodedata.bidirectional(ch)
    return "R" if bidi in ("R", "AL") else "L" if bidi == "L" else None


def _segments(text: str, fonts: tuple[_Font, dict[str, _Font], tuple[_Font, ...]]) -> tuple[list[_Seg], list[str]]:
    """Split text into runs of one font and one direction; also return the characters no font has."""
    primary, scripts, order = fonts
    segs: list[_Seg] = []
    missing: list[str] = []
    for ch in text:
        cp = ord(ch)
        cur = segs[-1] if segs else None
        if cur is not None and _attaches(ch) and cur.font.covers(cp):
            font = cur.font
        else:
            font = _pick(cp, primary, scripts, order)
        if font is None:
            if _visible(ch) and ch not in missing:
                missing.append(ch)
            continue
        d = _direction(ch)
        # Neutrals before a run's first strong character stay a run of their own: between two
        # runs of different directions they take the paragraph's, not the next run's.
        if cur is not None and cur.font is font and (d is None or cur.direction == d):
            cur.text += ch
            cur.direction = cur.direction or d
        else:
            segs.append(_Seg(ch, font, d))
    return _split_spaces(segs), missing


def _split_spaces(segs: list[_Seg]) -> list[_Seg]:
    """Spaces between two runs become a neutral run of their own: bidi then puts them between
    the runs, where a space inside a run's right-to-left text would be moved to its far end."""
    out: list[_Seg] = []
    for k, seg in enumerate(segs):
        body = seg.text.rstrip()
        if k + 1 < len(segs) and body and body != seg.text:
            out += [_Seg(body, seg.font, seg.direction), _Seg(seg.text[len(body):], seg.font, None)]
        else:
            out.append(seg)
    return out


def _advance(seg: _Seg, px: float) -> float:
    import uharfbuzz as hb

    buf = hb.Buffer()
    buf.add_str(seg.text)
    buf.guess_segment_properties()
    hb.shape(seg.font.hb_font, buf, {})
    return sum(p.x_advance for p in buf.glyph_positions) * px / seg.font.upem


def paragraph_direction(text: str) -> str:
    """"R" when the first strongly directional character is right-to-left, else "L" (bidi P2-P3)."""
    return next((d for d in map(_direction, text) if d), "L")


def _visual_order(segs: list[_Seg], para: str) -> list[_Seg]:
    """Unicode bidi rules W-L2, simplified to whole runs: neutral runs between two runs of one
    direction take it, others the paragraph's; then every maximal sequence at or above each
    embedding level is reversed. Inside a run, drawtext's FriBiDi orders the characters."""
    strong = [s.direction for s in segs]
    levels = []
    for i, d in enumerate(strong):
        if d is None:
            before = next((strong[j] for j in range(i - 1, -1, -1) if strong[j]), para)
            after = next((strong[j] for j in range(i + 1, len(strong)) if strong[j]), para)
            d = before if before == after else para
        levels.append((0 if d == "L" else 1) if para == "L" else (2 if d == "L" else 1))
    order = list(range(len(segs)))
    for level in range(max(levels, default=0), 0, -1):
        i = 0
        while i < len(order):
            if levels[order[i]] < level:
                i += 1
                continue
            j = i
            while j < len(order) and levels[order[j]] >= level:
                j += 1
            order[i:j] = reversed(order[i:j])
            i = j
    return [segs[k] for k in order]


@dataclass(frozen=True)
class Run:
    """One `drawtext`: text of one font, its left edge from the line's left edge, and width (px)."""

    text: str
    font: Path
    x: float
    width: float


@dataclass(frozen=True)
class Line:
    runs: tuple[Run, ...]  # left to right on screen
    width: float
    text: str  # the line in logical order (what was wrapped)


@dataclass(frozen=True)
class TextLayout:
    lines: tuple[Line, ...]
    missing: tuple[str, ...]  # characters no bundled font can draw, left out


class Typesetter:
    """Fonts for one text style: `font` is a font file (None: the bundled DejaVu Sans)."""

    def __init__(self, font: Path | str | None = None) -> None:
        self._fonts = _chain(str(font) if font is not None else None)

    def missing(self, text: str) -> list[str]:
        return _segments(text, self._fonts)[1]

    def width(self, text: str, px: float) -> float:
        return sum(_advance(s, px) for s in _segments(text, self._fonts)[0])

    def line(self, text: str, px: float, direction: str | None = None) -> Line:
        """One line laid out left to right; `direction` is its paragraph's (default: its own)."""
        x, runs = 0.0, []
        for seg in _visual_order(_segments(text, self._fonts)[0], direction or paragraph_direction(text)):
            w = _advance(seg, px)
            runs.append(Run(seg.text, seg.font.path, x, w))
            x += w
        return Line(tuple(runs), x, text)

    def wrap(self, text: str, px: float, max_width: float) -> list[str]:
        """Greedy word wrap measured with the real fonts; a word wider than a line (or a run of
        CJK, which has no spaces) is broken between clusters."""
        lines: list[str] = []
        for paragraph in text.splitlines() or [""]:
            current = ""
            for word in paragraph.split():
                candidate = f"{current} {word}" if current else word
                if self.width(candidate, px) <= max_width:
                    current = candidate
                    continue
                if current:
                    lines.append(current)
                current = ""
                for cluster in _clusters(word):
                    if current and self.width(current + cluster, px) > max_width:
                        lines.append(current)
                        current = ""
                    current += cluster
            lines.append(current)
        return [ln for ln in lines if ln.strip()] or [text.strip()]

    def layout(self, text: str, px: float, max_width: float) -> TextLayout:
        lines = []
        for paragraph in text.splitlines() or [""]:
            direction = paragraph_direction(paragraph)
            lines += [self.line(ln, px, direction) for ln in self.wrap(paragraph, px, max_width) if ln.strip()]
        return TextLayout(tuple(lines) or (self.line("", px),), tuple(self.missing(text)))


def _clusters(word: str) -> Iterable[str]:
    """Break points that keep a base with its marks, joiners and (after a virama) conjuncts."""
    cluster = ""
    for ch in word:
        glue = cluster and (unicodedata.category(ch).startswith("M") or ord(ch) in _JOINERS
                            or ord(cluster[-1]) in _JOINERS | _VIRAMA)
        if cluster and not glue:
            yield cluster
            cluster = ""
        cluster += ch
    if cluster:
        yield cluster


def describe_missing(chars: Iterable[str]) -> str:
    """'😀 (U+1F600), ☃ (U+2603)' for a note."""
    return ", ".join(f"{ch} (U+{ord(ch):04X})" for ch in chars)


def prompt_notes(prompt: str) -> list[str]:
    """The job note for a preview title card whose prompt has characters no bundled font has."""
    missing = Typesetter().missing(prompt)
    if not missing:
        return []
    return [f"The preview title card leaves out {describe_missing(missing)}: no bundled font can draw "
            "them (see the README on fonts)."]
