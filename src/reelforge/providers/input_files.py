"""Turning a resolved input (`MediaRef`) into what a provider accepts.

The core has already checked that a local file lies inside an allowed root and that a URL is
public; this module only packages inputs: the media type sniffed from the bytes (extensions lie),
a data URI or raw base64 within a provider's size limit, and the presigned multipart form POST
that upload flows use (Runway; S3-style forms elsewhere). Adapters pick per input and per limit.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
from collections.abc import Mapping
from pathlib import Path

import anyio
import httpx

from reelforge.errors import InvalidRequest, ReelforgeError
from reelforge.providers.http import DEFAULT_RETRY, RetryPolicy, send, status_error_map
from reelforge.generation_spec import MediaRef

log = logging.getLogger(__name__)

_MAGIC: list[tuple[int, bytes, str]] = [
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (4, b"ftypqt", "video/quicktime"),
    (4, b"ftyp", "video/mp4"),
]


def sniff_mime(head: bytes, name: str = "") -> str:
    """The media type from the first bytes (RIFF/WEBP, PNG, JPEG, GIF, mp4, mov, webm), else from the name."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    for offset, magic, mime in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return mime
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def file_mime(path: Path) -> str:
    """Sniff a local file's media type."""
    with path.open("rb") as handle:
        return sniff_mime(handle.read(32), path.name)


def input_path(ref: MediaRef, *, param: str) -> Path:
    """The local file behind `ref`, checked to exist and be non-empty."""
    path = ref.local_path
    if not path.is_file() or path.stat().st_size == 0:
        raise InvalidRequest(f"The file given for '{param}' is missing or empty: {path.name}.", param=param)
    return path


def check_kind(ref: MediaRef, *, expected: str, param: str) -> str:
    """The input's media type; raises when it is not an image/video as `expected` ('image' or 'video')."""
    mime = file_mime(input_path(ref, param=param)) if ref.kind == "file" else ref.mime
    if ref.kind == "file" and not mime.startswith(expected + "/"):
        raise InvalidRequest(
            f"'{param}' must be {'an' if expected == 'image' else 'a'} {expected} file; got {mime}.", param=param
        )
    return mime


def check_image_file(ref: MediaRef | None, *, param: str) -> None:
    """Refuse a local image that cannot be decoded, or is too large to decode safely, before any job
    row exists (a render would otherwise find out only once the job runs). Reads the header and
    verifies the file's structure; nothing is decoded in full."""
    if ref is None or ref.kind != "file" or ref.path is None:
        return
    path = Path(ref.path)
    if not path.exists():  # a frame the job itself extracts later (extend's last frame)
        return
    import re
    import warnings

    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS or 0
    hint = "Pass a smaller image (at most about 89 megapixels, e.g. 8000x8000); video models take far less."
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
                if limit and width * height > limit:
                    raise InvalidRequest(
                        f"{param}: {path.name} is {width}x{height} ({width * height / 1e6:.0f} megapixels), "
                        f"too large to decode safely (limit {limit / 1e6:.0f} megapixels).", param=param, hint=hint)
                im.verify()
    except Image.DecompressionBombError as exc:  # so large Pillow refuses even to open it
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f" ({int(found.group(1)) / 1e6:.0f} megapixels)" if found else ""
        raise InvalidRequest(f"{param}: {path.name}{size} is too large to decode safely (limit "
                             f"{limit / 1e6:.0f} megapixels).", param=param, hint=hint) from None
    except InvalidRequest:
        raise
    except Exception as exc:  # Pillow raises many types for broken files (OSError, SyntaxError, ValueError)
        raise InvalidRequest(f"{param}: {path.name} could not be read as an image ({type(exc).__name__}: {exc}).",
                             param=param, hint="Pass a PNG, JPEG or WebP image that opens in an image viewer.") from None


async def read_limited(ref: MediaRef, *, max_bytes: int, param: str, provider: str) -> tuple[bytes, str]:
    """The bytes and sniffed media type of a local input no larger than `max_bytes`."""
    path = input_path(ref, param=param)
    size = path.stat().st_size
    if size > max_bytes:
        raise InvalidRequest(
            f"The file for '{param}' is {size / 1e6:.1f} MB; {provider} accepts at most "
            f"{max_bytes / 1e6:.0f} MB inline. Use a smaller or more compressed file.",
            param=param,
        )
    data = await anyio.Path(path).read_bytes()
    return data, sniff_mime(data[:32], path.name)


async def data_uri(ref: MediaRef, *, max_bytes: int, param: str, provider: str) -> str:
    """`data:<mime>;base64,...` for a local input within `max_bytes` (measured before encoding)."""
    data, mime = await read_limited(ref, max_bytes=max_bytes, param=param, provider=provider)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


async def base64_payload(ref: MediaRef, *, max_bytes: int, param: str, provider: str) -> tuple[str, str]:
    """(base64 text, media type) for APIs that take the two separately."""
    data, mime = await read_limited(ref, max_bytes=max_bytes, param=param, provider=provider)
    return base64.b64encode(data).decode("ascii"), mime


def input_size(ref: MediaRef, *, param: str) -> int:
    """Size in bytes of a local input."""
    return input_path(ref, param=param).stat().st_size


async def upload_form(
    client: httpx.AsyncClient,
    upload_url: str,
    fields: Mapping[str, str],
    ref: MediaRef,
    *,
    param: str,
    provider: str,
    policy: RetryPolicy = DEFAULT_RETRY,
) -> None:
    """POST a local file to a presigned multipart form (S3 style: `fields` first, then `file`).

    Uploading is not billed and the presigned target is fixed, so it is retried like a read.
    """
    path = input_path(ref, param=param)
    data = await anyio.Path(path).read_bytes()
    files = {"file": (path.name, data, sniff_mime(data[:32], path.name))}
    await send(
        client, "POST", upload_url, data=dict(fields), files=files, retry_reads=True,
        error_map=_upload_errors(provider, param), provider=provider, policy=policy,
    )  # fmt: skip
    log.info("uploaded %s (%d bytes) for %s", path.name, len(data), provider)


def _upload_errors(provider: str, param: str):  # noqa: ANN202 - returns an ErrorMap
    mapped = status_error_map(provider)

    def to_error(response: httpx.Response) -> ReelforgeError:
        error = mapped(response)
        error.message = f"Uploading the file for '{param}' failed: {error.message}"
        return error

    return to_error
