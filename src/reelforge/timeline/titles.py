"""Titles and burned-in subtitles: fonts, line wrapping and the ffmpeg filters that draw them.

Fonts never come from the system's fontconfig (a font-less machine makes `drawtext` fail with
"Cannot find a valid font for the family Sans"): DejaVu Sans ships inside this package, and a
caller's own font file is checked with Pillow. Fonts, text and subtitle files are copied into the
cache directory under content-hash names, so filter strings contain only safe paths and the
segment cache key changes whenever any of them does. `drawtext` neither wraps nor fits text and
takes one font, so `reelforge.media.text` wraps the text, splits each line into runs one bundled
font can draw (Latin, Greek, Cyrillic, Hebrew, Arabic, Devanagari, common CJK) and places them;
each run is one `drawtext` (which shapes and orders it), reading its text from a file
(`textfile=` + `expansion=none`: no escaping of `:` `'` `%` `\\`). Characters no font has are left
out and named in the job's notes (`title_notes`), never drawn as boxes.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from reelforge.errors import InvalidRequest
from reelforge.timeline.filters import escape_value
from reelforge.timeline.presets import OutputFormat
from reelforge.timeline.spec import TitleSpec

SHIPPED_FONTS = {"sans": "DejaVuSans.ttf", "sans-bold": "DejaVuSans-Bold.ttf"}
#: The family name libass looks up for subtitles (the shipped regular font).
SUBTITLE_FONT_FAMILY = "DejaVu Sans"
_MARGIN = 0.05  # of the frame height, around title blocks
_LINE_SPACING = 1.25
_ASCENT = 0.93  # DejaVu Sans's ascender, in em: where the first baseline sits below a block's top
_TEXT_HEIGHT = 1.17  # DejaVu Sans's ascender + descender, in em: a line box's height


def shipped_font(name: str) -> Path:
    """Path of a font shipped in the package (`sans` or `sans-bold`)."""
    ref = resources.files("reelforge.timeline") / "fonts" / SHIPPED_FONTS[name]
    return Path(str(ref))


def resolve_font(font: str, *, param: str) -> Path:
    """The font file a title asks for, checked to load; raises `InvalidRequest` naming `param`."""
    if font in SHIPPED_FONTS:
        return shipped_font(font)
    path = Path(font).expanduser()
    if not path.is_file():
        raise InvalidRequest(
            f"{param}: font file {font!r} does not exist; use 'sans', 'sans-bold' or a path to a .ttf/.otf file.",
            param=param,
        )
    from PIL import ImageFont  # Pillow only when a title asks for a font of its own

    try:
        ImageFont.truetype(str(path), 12)
    except OSError:
        raise InvalidRequest(f"{param}: {path.name} is not a TrueType/OpenType font.", param=param) from None
    return path


def _stash(data: bytes, directory: Path, suffix: str) -> Path:
    """Write `data` once under its content hash in `directory`; return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{hashlib.sha256(data).hexdigest()[:24]}{suffix}"
    if not path.exists():
        tmp = path.with_name(f".partial-{path.name}")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def install_font(font_path: Path, cache_dir: Path) -> Path:
    """Copy a font into `cache_dir/fonts` under its content hash (safe, cache-keyed path)."""
    return _stash(font_path.read_bytes(), cache_dir / "fonts", font_path.suffix.lower())


def install_subtitle_fonts(cache_dir: Path) -> Path:
    """A directory holding only the shipped fonts, for libass's `fontsdir`."""
    directory = cache_dir / "fonts" / "libass"
    directory.mkdir(parents=True, exist_ok=True)
    for key, filename in SHIPPED_FONTS.items():
        target = directory / filename
        if not target.exists():
            shutil.copyfile(shipped_font(key), target)
    return directory


def install_subtitles(path: Path, cache_dir: Path) -> Path:
    """Copy a subtitle file into the cache under its content hash."""
    return _stash(path.read_bytes(), cache_dir / "subtitles", path.suffix.lower())


def wrap_lines(text: str, font_path: Path, px: int, max_width: int) -> list[str]:
    """Greedy word wrap measured with the real fonts (the title's and the script fallbacks)."""
    from reelforge.media.text import Typesetter

    return Typesetter(font_path).wrap(text, px, max_width)


def title_notes(titles: list[TitleSpec]) -> list[str]:
    """A note for each title with characters no bundled font can draw (they are left out)."""
    from reelforge.media.text import Typesetter, describe_missing

    notes = []
    for j, title in enumerate(titles):
        missing = Typesetter(resolve_font(title.font, param=f"titles[{j}].font")).missing(title.text)
        if missing:
            notes.append(f"titles[{j}]: no bundled font can draw {describe_missing(missing)}; "
                         "left out of the title (see the README on fonts).")
    return notes


@dataclass(frozen=True)
class TitleRun:
    """One drawtext: a piece of one line in one font, `x` pixels from the line's left edge."""

    line: int
    text_file: Path
    font_file: Path
    x: float


@dataclass(frozen=True)
class TitleOverlay:
    """One wrapped title, ready to draw: runs per line, size, place and timing."""

    runs: tuple[TitleRun, ...]
    line_widths: tuple[float, ...]
    font_file: Path  # the title's own font: sizes the per-line boxes
    space_file: Path  # a single space: the (invisible) text a line's box is drawn around
    px: int
    color: str
    outline: bool
    box: bool
    position: str
    start_s: float
    end_s: float
    fade_s: float


def prepare_title(title: TitleSpec, fmt: OutputFormat, cache_dir: Path, timeline_s: float, index: int) -> TitleOverlay:
    """Wrap a title for the output size, split it into font runs and stash text and fonts in the cache."""
    from reelforge.media.text import Typesetter

    font_path = resolve_font(title.font, param=f"titles[{index}].font")
    px = max(8, round(title.size * fmt.height))
    max_width = int(fmt.width * (1 - 2 * _MARGIN))
    layout = Typesetter(font_path).layout(title.text, px, max_width)
    installed: dict[Path, Path] = {}
    runs = []
    for k, line in enumerate(layout.lines):
        for run in line.runs:
            if not run.text.strip():
                continue  # a space between runs: only its width counts
            if run.font not in installed:
                installed[run.font] = install_font(run.font, cache_dir)
            text_file = _stash(run.text.encode("utf-8"), cache_dir / "text", ".txt")
            runs.append(TitleRun(k, text_file, installed[run.font], run.x))
    end = min(title.end_s if title.end_s is not None else timeline_s, timeline_s)
    fade = min(title.fade_s, (end - title.start_s) / 2)
    return TitleOverlay(
        runs=tuple(runs), line_widths=tuple(line.width for line in layout.lines),
        font_file=install_font(font_path, cache_dir), space_file=_stash(b" ", cache_dir / "text", ".txt"), px=px,
        color=_ffmpeg_colour(title.color), outline=title.outline, box=title.box, position=title.position,
        start_s=title.start_s, end_s=end, fade_s=fade,
    )


def _ffmpeg_colour(colour: str) -> str:
    if colour.startswith("#"):
        rgb, alpha = colour[1:7], colour[7:9]
        return f"0x{rgb}" + (f"@{int(alpha, 16) / 255:.3f}" if alpha else "")
    return colour.lower().replace("grey", "gray")


def _xy(overlay: TitleOverlay, line: int, offset: float, *, top: bool = False) -> tuple[str, str]:
    """drawtext x/y expressions `offset` px into a line (y: its baseline, or its top), anchored by
    the title's position."""
    n = len(overlay.line_widths)
    lh = round(overlay.px * _LINE_SPACING)
    block = lh * n
    margin = f"h*{_MARGIN}"
    vertical, _, horizontal = overlay.position.partition("_")
    if overlay.position == "center":
        vertical, horizontal = "center", ""
    # Runs in different fonts share the baseline: the line's top plus the primary font's ascent.
    below = line * lh + (0 if top else round(overlay.px * _ASCENT))
    y = {"top": f"{margin}+{below}", "bottom": f"h-{margin}-{block}+{below}", "center": f"(h-{block})/2+{below}"}
    width = overlay.line_widths[line]
    x = {"left": f"{margin}+{offset:.2f}", "right": f"w-{margin}-{width:.2f}+{offset:.2f}"}.get(
        horizontal, f"(w-{width:.2f})/2+{offset:.2f}")
    return x, y[vertical]


def _alpha(o: TitleOverlay) -> str | None:
    if o.fade_s <= 0:
        return None
    s, e, f = o.start_s, o.end_s, o.fade_s
    return f"if(lt(t,{s + f:.6f}),(t-{s:.6f})/{f:.6f},if(gt(t,{e - f:.6f}),({e:.6f}-t)/{f:.6f},1))"


def drawtext_filters(overlay: TitleOverlay) -> list[str]:
    """One drawtext per run (after one box per line, if asked); `t` is timeline time (the segment
    graph shifts PTS to it)."""
    common = {"expansion": "none", "fontsize": str(overlay.px), "y_align": "baseline",
              "enable": f"between(t,{overlay.start_s:.6f},{overlay.end_s:.6f})"}
    if (alpha := _alpha(overlay)) is not None:
        common["alpha"] = alpha
    filters = []
    if overlay.box:
        # One box per line, drawn around an invisible space sized to the whole line: runs in
        # different fonts would each get a box of their own height, overlapping at the joins.
        for k, width in enumerate(overlay.line_widths):
            x, y = _xy(overlay, k, 0.0, top=True)  # a space has no ink: its box starts at y
            opts = {"fontfile": str(overlay.font_file), "textfile": str(overlay.space_file), "fontcolor": "white@0",
                    "x": x, "y": y, "box": "1", "boxcolor": "black@0.5", "boxborderw": str(max(2, overlay.px // 5)),
                    "boxw": str(max(1, round(width))), "boxh": str(round(overlay.px * _TEXT_HEIGHT)), **common}
            filters.append("drawtext=" + ":".join(f"{k}={escape_value(v)}" for k, v in opts.items()))
    for run in overlay.runs:
        x, y = _xy(overlay, run.line, run.x)
        opts = {"fontfile": str(run.font_file), "textfile": str(run.text_file), "fontcolor": overlay.color,
                "x": x, "y": y, **common}
        if overlay.outline:
            opts |= {"borderw": str(max(1, overlay.px // 16)), "bordercolor": "black@0.8"}
        filters.append("drawtext=" + ":".join(f"{k}={escape_value(v)}" for k, v in opts.items()))
    return filters


def subtitles_filter(sub_file: Path, fonts_dir: Path, fmt: OutputFormat) -> str:
    """libass burn-in with the shipped font only (fontsdir), sized for the output height."""
    # libass scales SRT styles from a 288-line canvas; 16 of 288 is about 5.5 % of the height.
    style = f"FontName={SUBTITLE_FONT_FAMILY},FontSize=16,Outline=1.5,MarginV=18"
    return (
        f"subtitles=filename={escape_value(str(sub_file))}:fontsdir={escape_value(str(fonts_dir))}"
        f":original_size={fmt.width}x{fmt.height}:force_style={escape_value(style)}"
    )
