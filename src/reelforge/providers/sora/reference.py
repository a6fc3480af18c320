"""The first-frame image as Sora takes it: `input_reference` must be exactly the output size.

OpenAI refuses a reference of any other size ("must match the requested width and height"), and
the extend tool's last frame, or a user's photo, rarely is. So a local image of another size is
scaled to cover the size and center-cropped (said in a note at planning time), then uploaded as a
PNG; an image already the right size goes up byte for byte. JPEG, PNG and WebP are what the API
accepts [3P]; anything else Pillow can read is re-encoded to PNG the same way.
"""

from __future__ import annotations

import io
from pathlib import Path

import anyio

from reelforge.errors import InvalidRequest
from reelforge.generation_spec import MediaRef
from reelforge.providers.input_files import check_kind, input_path

#: Media types the Videos API takes as input_reference as they are.
PASS_THROUGH = ("image/jpeg", "image/png", "image/webp")
#: A generous ceiling for one uploaded image (OpenAI documents none for videos; images elsewhere 50 MB).
MAX_BYTES = 50 * 1024 * 1024


def parse_size(size: str) -> tuple[int, int]:
    width, _, height = size.partition("x")
    return int(width), int(height)


def image_size(path: Path) -> tuple[int, int] | None:
    """The pixel size of a local image, None when it cannot be read (the catalog check reports that)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except Exception:  # noqa: BLE001 - any unreadable file: the shared input check names it
        return None


def conform_note(ref: MediaRef, size: str, param: str) -> str | None:
    """What will be done to a local image of another size, said before anything is paid for."""
    if ref.kind != "file" or ref.path is None or not Path(ref.path).exists():
        return None
    found = image_size(Path(ref.path))
    if found is None or found == parse_size(size):
        return None
    return (f"{param} is {found[0]}x{found[1]}; Sora needs the reference image at exactly {size}, so it is "
            f"scaled to cover {size} and center-cropped.")


async def reference_file(ref: MediaRef, size: str, param: str) -> tuple[str, bytes, str]:
    """(file name, bytes, media type) of the local image as the multipart `input_reference` part."""
    mime = check_kind(ref, expected="image", param=param)
    path = input_path(ref, param=param)
    if path.stat().st_size > MAX_BYTES:
        raise InvalidRequest(f"'{param}' is larger than {MAX_BYTES // 2**20} MB; pass a smaller image.", param=param)
    found = image_size(path)
    if found == parse_size(size) and mime in PASS_THROUGH:
        return path.name, await anyio.Path(path).read_bytes(), mime
    data = await anyio.to_thread.run_sync(_cover_crop_png, path, parse_size(size))
    return path.with_suffix(".png").name, data, "image/png"


def _cover_crop_png(path: Path, size: tuple[int, int]) -> bytes:
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        fitted = ImageOps.fit(im.convert("RGB"), size, method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    out = io.BytesIO()
    fitted.save(out, format="PNG")
    return out.getvalue()
