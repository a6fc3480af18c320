"""Fetching finished outputs: streamed to a temp file beside the destination, checked, then renamed.

Provider links are signed and short-lived, so outputs are fetched as soon as a job finishes. The
body must look like a video (content type and magic bytes), must not be empty or larger than the
configured limit, and only gets its final name once complete (`os.replace`), so a crash never
leaves a half-written file that looks finished.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Mapping
from pathlib import Path

import anyio
import httpx

from reelforge.errors import ProviderFailure, ProviderTimeout, ReelforgeError
from reelforge.providers.http import (
    DEFAULT_RETRY,
    EXPIRED_URL_STATUSES,
    RETRYABLE_STATUSES,
    OutputUrlExpired,
    RetryPolicy,
    error_for_status,
    parse_retry_after,
    safe_url,
)

log = logging.getLogger(__name__)

#: Content types a video download may carry (CDNs often send a generic binary type, or none).
VIDEO_CONTENT_TYPES = ("video/", "application/octet-stream", "binary/octet-stream", "application/mp4")
#: ISO BMFF (mp4/mov) top-level boxes a file may start with; `ftyp` is by far the usual one.
_BMFF_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"  # webm / matroska


def video_container(head: bytes) -> str | None:
    """'mp4' or 'webm' when the first bytes look like that container, else None."""
    if len(head) >= 8 and head[4:8] in _BMFF_BOXES:
        return "mp4"
    if head.startswith(_EBML_MAGIC):
        return "webm"
    return None


async def fetch_video(
    client: httpx.AsyncClient,
    url: str,
    dest: Path,
    *,
    headers: Mapping[str, str] | None = None,
    max_bytes: int | None = None,
    provider: str = "the provider",
    policy: RetryPolicy = DEFAULT_RETRY,
) -> int:
    """Stream a finished output to `dest` atomically; return its size in bytes.

    Retries the read on 429/5xx and transport errors. Raises `OutputUrlExpired` on 401/403/404/410
    (poll the job again for a fresh link), `ProviderFailure` for a body that is not a video, is
    empty, or is larger than `max_bytes`.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # A server killed mid-download leaves its temp file behind; each job has one downloader at a
    # time (the runner drives a job from one task), so older temp files for `dest` are stale.
    for stale in dest.parent.glob(f".{dest.name}.partial-*"):
        stale.unlink(missing_ok=True)
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return await _download_once(client, url, dest, headers, max_bytes, provider)
        except _RetryableDownload as retry:
            if attempt == policy.max_attempts:
                raise retry.error from None
            wait = retry.wait if retry.wait is not None else policy.backoff(attempt)
            log.info("download %s: %s; retrying in %.2f s", safe_url(url), retry.error.code, wait)
            await anyio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


class _RetryableDownload(Exception):
    def __init__(self, error: ReelforgeError, wait: float | None = None) -> None:
        self.error = error
        self.wait = wait


async def _download_once(
    client: httpx.AsyncClient,
    url: str,
    dest: Path,
    headers: Mapping[str, str] | None,
    max_bytes: int | None,
    provider: str,
) -> int:
    temp = dest.with_name(f".{dest.name}.partial-{os.getpid()}-{random.getrandbits(32):08x}")
    try:
        async with client.stream("GET", url, headers=headers) as response:
            _check_download_response(response, url, max_bytes, provider)
            size = await _stream_to(response, temp, max_bytes, provider)
        os.replace(temp, dest)
        log.info("downloaded %s (%d bytes) to %s", safe_url(url), size, dest.name)
        return size
    except httpx.TransportError as exc:
        error: ReelforgeError = (
            ProviderTimeout(f"Downloading the result from {provider} timed out.")
            if isinstance(exc, httpx.TimeoutException)
            else ProviderFailure(f"Downloading the result from {provider} failed ({type(exc).__name__}).")
        )
        raise _RetryableDownload(error) from None
    finally:
        temp.unlink(missing_ok=True)


def _check_download_response(response: httpx.Response, url: str, max_bytes: int | None, provider: str) -> None:
    status = response.status_code
    if status in EXPIRED_URL_STATUSES:
        raise OutputUrlExpired(
            f"The output link from {provider} no longer works (HTTP {status} for {safe_url(url)}).",
            hint="Signed output URLs expire; reading the job again returns a fresh link.",
        )
    if status in RETRYABLE_STATUSES:
        raise _RetryableDownload(
            error_for_status(status, "", provider=provider, retry_after=parse_retry_after(response.headers)),
            parse_retry_after(response.headers),
        )
    if not response.is_success:
        raise ProviderFailure(f"Downloading the result from {provider} failed with HTTP {status}.")
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and not ctype.startswith(VIDEO_CONTENT_TYPES):
        raise ProviderFailure(f"{provider} returned '{ctype}' instead of a video for {safe_url(url)}.")
    length = response.headers.get("content-length")
    if max_bytes is not None and length and length.isdigit() and int(length) > max_bytes:
        raise ProviderFailure(_too_large(provider, int(length), max_bytes))


def _too_large(provider: str, size: int, max_bytes: int) -> str:
    return (
        f"The result from {provider} is {size / 1e6:.1f} MB, above the {max_bytes / 1e6:.0f} MB limit "
        "(raise REELFORGE_DOWNLOAD_MAX_MB to accept it)."
    )


async def _stream_to(response: httpx.Response, temp: Path, max_bytes: int | None, provider: str) -> int:
    size = 0
    head = b""
    async with await anyio.open_file(temp, "wb") as out:
        async for chunk in response.aiter_bytes(1 << 16):
            if len(head) < 16:
                head += chunk[: 16 - len(head)]
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise ProviderFailure(_too_large(provider, size, max_bytes))
            await out.write(chunk)
        await out.flush()
        await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())
    if size == 0:
        raise ProviderFailure(f"{provider} returned an empty file instead of a video.")
    if video_container(head) is None:
        raise ProviderFailure(f"{provider} returned a file that is not an mp4 or webm video.")
    return size
