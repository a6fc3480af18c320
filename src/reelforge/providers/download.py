"""Fetching finished outputs: streamed to a temp file beside the destination, checked, then renamed.

Provider links are signed and short-lived, so outputs are fetched as soon as a job finishes. The
body must look like a video (content type and magic bytes), must not be empty or larger than the
configured limit, and only gets its final name once complete (`os.replace`), so a crash never
leaves a half-written file that looks finished.

A link can also stall or trickle (a valid header, then a byte every few seconds): httpx's read
timeout never fires on that, so every download has a total deadline (retries included) and a
minimum rate averaged over a short window. Past either it ends as `DownloadFailed`
(`download_failed`): the job keeps its remote id, and a retry fetches the paid video again.
"""

from __future__ import annotations

import logging
import math
import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from reelforge.settings import Settings

log = logging.getLogger(__name__)

#: The default deadline: a fixed allowance plus one second per MB of the size limit (1 MB/s for
#: the largest file accepted), so a higher REELFORGE_DOWNLOAD_MAX_MB also allows more time.
DEADLINE_BASE_S = 120.0
DEADLINE_S_PER_MB = 1.0
#: The minimum rate is averaged over this many seconds (a brief CDN hiccup is not a failure).
RATE_WINDOW_S = 20.0


class DownloadFailed(ProviderFailure):
    """A finished, paid output could not be fetched (stalled, too slow, or the link kept failing).

    The remote job is done and kept: fetching again costs nothing, a new create would pay twice.
    """

    code = "download_failed"


@dataclass(frozen=True)
class DownloadLimits:
    """What one output download may take: bytes, total seconds (retries included), minimum speed."""

    max_bytes: int | None = None
    deadline_s: float | None = None
    #: Bytes per second, averaged over `rate_window_s`; None turns the check off.
    min_rate_bps: float | None = 100_000.0
    rate_window_s: float = RATE_WINDOW_S
    #: The file is a still image (a provider's last frame), not a video: checked as PNG, JPEG or WebP.
    image: bool = False


def download_limits(settings: Settings) -> DownloadLimits:
    """The limits in effect for provider downloads (REELFORGE_DOWNLOAD_*)."""
    max_bytes = settings.download_max_mb * 1024 * 1024
    deadline = settings.download_deadline_s
    if deadline is None:
        deadline = DEADLINE_BASE_S + DEADLINE_S_PER_MB * settings.download_max_mb
    return DownloadLimits(max_bytes=max_bytes, deadline_s=deadline, min_rate_bps=settings.download_min_rate_kbps * 1000)

#: Content types a video download may carry (CDNs often send a generic binary type, or none).
VIDEO_CONTENT_TYPES = ("video/", "application/octet-stream", "binary/octet-stream", "application/mp4")
#: ISO BMFF (mp4/mov) top-level boxes a file may start with; `ftyp` is by far the usual one.
_BMFF_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"  # webm / matroska


#: Content types an image download may carry.
IMAGE_CONTENT_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")


def image_format(head: bytes) -> str | None:
    """'png', 'jpeg' or 'webp' when the first bytes look like that format, else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


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
    limits: DownloadLimits | None = None,
) -> int:
    """Stream a finished output to `dest` atomically; return its size in bytes.

    Retries the read on 429/5xx, transport errors and a too-slow link, all within the deadline.
    Raises `OutputUrlExpired` on 401/403/404/410 (poll the job again for a fresh link),
    `DownloadFailed` past the deadline or when the retries run out, `ProviderFailure` for a body
    that is not a video, is empty, or is larger than the size limit.
    """
    limits = limits or DownloadLimits(max_bytes=max_bytes)
    deadline = limits.deadline_s if limits.deadline_s is not None else math.inf
    with anyio.move_on_after(deadline) as scope:
        return await _fetch_with_retries(client, url, Path(dest), headers, limits, provider, policy)
    assert scope.cancelled_caught
    raise DownloadFailed(
        f"Downloading the result from {provider} did not finish within {deadline:g} s "
        f"({safe_url(url)}).{_KEPT}",
        hint=_RETRY_HINT,
    )


_KEPT = " The video was made (and paid for) at the provider; reelforge kept its remote id and sent nothing again."
_RETRY_HINT = (
    "Call the same tool again with the same idempotency_key to fetch it without paying again (a call "
    "without that key starts a new, paid job); REELFORGE_DOWNLOAD_DEADLINE_S and "
    "REELFORGE_DOWNLOAD_MIN_RATE_KBPS set the limits."
)


async def _fetch_with_retries(
    client: httpx.AsyncClient,
    url: str,
    dest: Path,
    headers: Mapping[str, str] | None,
    limits: DownloadLimits,
    provider: str,
    policy: RetryPolicy,
) -> int:
    dest.parent.mkdir(parents=True, exist_ok=True)
    # A server killed mid-download leaves its temp file behind; each job has one downloader at a
    # time (the runner drives a job from one task), so older temp files for `dest` are stale.
    for stale in dest.parent.glob(f".{dest.name}.partial-*"):
        stale.unlink(missing_ok=True)
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return await _download_once(client, url, dest, headers, limits, provider)
        except _RetryableDownload as retry:
            if attempt == policy.max_attempts:
                raise DownloadFailed(
                    f"Downloading the result from {provider} failed {attempt} times: {retry.error.message}{_KEPT}",
                    hint=_RETRY_HINT,
                ) from None
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
    limits: DownloadLimits,
    provider: str,
) -> int:
    temp = dest.with_name(f".{dest.name}.partial-{os.getpid()}-{random.getrandbits(32):08x}")
    try:
        async with client.stream("GET", url, headers=headers) as response:
            _check_download_response(response, url, limits, provider)
            size = await _stream_to(response, temp, limits, provider)
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


def _check_download_response(response: httpx.Response, url: str, limits: DownloadLimits, provider: str) -> None:
    status, max_bytes = response.status_code, limits.max_bytes
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
    if ctype and not ctype.startswith(IMAGE_CONTENT_TYPES if limits.image else VIDEO_CONTENT_TYPES):
        raise ProviderFailure(f"{provider} returned '{ctype}' instead of {'an image' if limits.image else 'a video'} "
                              f"for {safe_url(url)}.")
    length = response.headers.get("content-length")
    if max_bytes is not None and length and length.isdigit() and int(length) > max_bytes:
        raise ProviderFailure(_too_large(provider, int(length), max_bytes))


def _too_large(provider: str, size: int, max_bytes: int) -> str:
    return (
        f"The result from {provider} is {size / 1e6:.1f} MB, above the {max_bytes / 1e6:.0f} MB limit "
        "(raise REELFORGE_DOWNLOAD_MAX_MB to accept it)."
    )


class _Pace:
    """The minimum-rate rule: each window must average `min_rate_bps`; a silent link is timed out
    as soon as the bytes so far can no longer reach that average."""

    def __init__(self, limits: DownloadLimits) -> None:
        self.rate = limits.min_rate_bps
        self.window = limits.rate_window_s
        self.mark_t = time.monotonic()
        self.mark_bytes = 0

    def patience(self, size: int) -> float:
        """Seconds to wait for the next chunk before the link is too slow."""
        if not self.rate:
            return math.inf
        due = self.mark_t + max(self.window, (size - self.mark_bytes) / self.rate)
        return max(0.0, due - time.monotonic())

    def too_slow(self, size: int) -> bool:
        """Record progress; True when the window just ended below the minimum rate."""
        now = time.monotonic()
        if not self.rate or now - self.mark_t < self.window:
            return False
        if (size - self.mark_bytes) / (now - self.mark_t) < self.rate:
            return True
        self.mark_t, self.mark_bytes = now, size
        return False

    def error(self, provider: str, size: int) -> _RetryableDownload:
        seconds = time.monotonic() - self.mark_t
        return _RetryableDownload(DownloadFailed(
            f"the link from {provider} sent {size - self.mark_bytes} bytes in {seconds:.1f} s, slower than "
            f"{(self.rate or 0) / 1000:g} kB/s."
        ))  # fmt: skip


async def _stream_to(response: httpx.Response, temp: Path, limits: DownloadLimits, provider: str) -> int:
    max_bytes = limits.max_bytes
    pace = _Pace(limits)
    size = 0
    head = b""
    chunks = response.aiter_bytes(1 << 16)
    # Plain writes: a 64 KB write lands in the page cache in microseconds, while an async file sent
    # every chunk to a worker thread (a thread hop per chunk was the largest part of a download's CPU).
    with open(temp, "wb") as out:  # noqa: ASYNC230
        while True:
            with anyio.move_on_after(pace.patience(size)) as waiting:
                chunk = await anext(chunks, None)
            if waiting.cancelled_caught:  # silent for so long the window can no longer reach the rate
                raise pace.error(provider, size)
            if chunk is None:
                break
            if len(head) < 16:
                head += chunk[: 16 - len(head)]
            size += len(chunk)
            if pace.too_slow(size):
                raise pace.error(provider, size)
            if max_bytes is not None and size > max_bytes:
                raise ProviderFailure(_too_large(provider, size, max_bytes))
            out.write(chunk)
        out.flush()
        await anyio.to_thread.run_sync(os.fsync, out.fileno())
    if size == 0:
        raise ProviderFailure(f"{provider} returned an empty file instead of {'an image' if limits.image else 'a video'}.")
    if limits.image and image_format(head) is None:
        raise ProviderFailure(f"{provider} returned a file that is not a PNG, JPEG or WebP image.")
    if not limits.image and video_container(head) is None:
        raise ProviderFailure(f"{provider} returned a file that is not an mp4 or webm video.")
    return size
