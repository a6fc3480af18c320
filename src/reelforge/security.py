"""Input vetting: local files only from allowed roots, URLs only to public addresses.

Checked before any job row exists, so a bad input never costs money. A URL is resolved and every
address it maps to must be public (no loopback, private, link-local, multicast or reserved
ranges, and no IPv6 form that embeds such an IPv4: NAT64, 6to4, mapped, compatible, Teredo) unless the operator allows private URLs explicitly (tests, local setups).
"""

from __future__ import annotations

import ipaddress
import mimetypes
import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from reelforge.errors import InputNotAllowed, InvalidRequest
from reelforge.generation_spec import MediaRef
from reelforge.settings import Settings

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}
VIDEO_TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime", ".webm": "video/webm", ".mkv": "video/x-matroska"}
AUDIO_TYPES = {".mp3": "audio/mpeg", ".wav": "audio/wav", ".m4a": "audio/mp4", ".aac": "audio/aac", ".ogg": "audio/ogg", ".flac": "audio/flac"}


def allowed_roots(settings: Settings) -> list[Path]:
    # Not the working directory: desktop hosts start servers in "/", which would allow every file.
    # The characters folder holds only copies the studio made, which requests name as references.
    roots = [settings.outputs, settings.characters_dir, *settings.allowed_input_roots]
    return [Path(os.path.realpath(r.expanduser())) for r in roots]


def check_local_path(value: str, settings: Settings, *, param: str) -> Path:
    """Resolve a local path (symlinks included) and require it inside an allowed root."""
    if "\x00" in value:  # the OS refuses it with a bare ValueError; say which field holds it
        raise InvalidRequest(f"{param}: the path contains a NUL byte (\\x00), which no file name can hold.",
                             param=param, hint="Pass the path without control characters.")
    path = Path(value).expanduser()
    if not path.is_absolute():
        path = Path.cwd() / path
    real = Path(os.path.realpath(path))
    roots = allowed_roots(settings)
    if not any(real == r or r in real.parents for r in roots):
        listed = ", ".join(str(r) for r in roots)
        raise InputNotAllowed(
            f"{param}: '{value}' is outside the allowed input folders ({listed}).",
            param=param,
            hint="Move the file into one of them, or add its folder to REELFORGE_ALLOWED_INPUT_ROOTS.",
        )
    if not real.is_file():
        raise InvalidRequest(f"{param}: no file at '{value}'.", param=param)
    if real.stat().st_size == 0:
        raise InvalidRequest(f"{param}: '{value}' is empty.", param=param)
    return real


def check_public_url(url: str, settings: Settings, *, param: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        raise InvalidRequest(f"{param}: '{url[:80]}' is not an http(s) URL.", param=param)
    if settings.allow_private_urls:
        return url
    try:
        infos = socket.getaddrinfo(parsed.hostname, parsed.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise InvalidRequest(f"{param}: cannot resolve host '{parsed.hostname}'.", param=param) from exc
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if not is_public_address(addr):
            raise InputNotAllowed(
                f"{param}: '{parsed.hostname}' resolves to a private or loopback address ({addr}); "
                "only public URLs are accepted.",
                param=param,
                hint="Pass a local file path instead, or set REELFORGE_ALLOW_PRIVATE_URLS=true for a trusted local setup.",
            )
    return url


#: IPv6 ranges that carry an IPv4 address the traffic is translated or tunnelled to (RFC 6052, 8215,
#: 3056, 4291, 6145): the embedded address is what really gets reached.
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL_USE = ipaddress.IPv6Network("64:ff9b:1::/48")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")


def embedded_ipv4(addr: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """Every IPv4 address this IPv6 address embeds (mapped, compatible, translated, NAT64, 6to4, Teredo)."""
    value = int(addr)
    found: list[ipaddress.IPv4Address] = []
    if addr.ipv4_mapped is not None:
        found.append(addr.ipv4_mapped)
    if addr in _IPV4_COMPATIBLE or addr in _IPV4_TRANSLATED or addr in _NAT64_WELL_KNOWN:
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    if addr in _NAT64_LOCAL_USE:
        # The operator picks the prefix length (RFC 6052 §2.2); decode every layout that fits in it.
        # Bits 64-71 are the reserved "u" octet, skipped by the /48 and /56 layouts.
        found.append(ipaddress.IPv4Address(value & 0xFFFFFFFF))  # /96
        found.append(ipaddress.IPv4Address((value >> 24) & 0xFFFFFFFF))  # /64
        found.append(ipaddress.IPv4Address(((value >> 64) & 0xFF) << 24 | (value >> 32) & 0xFFFFFF))  # /56
        found.append(ipaddress.IPv4Address(((value >> 64) & 0xFFFF) << 16 | (value >> 40) & 0xFFFF))  # /48
    if addr.sixtofour is not None:
        found.append(addr.sixtofour)
    if addr in _TEREDO and addr.teredo is not None:
        found.extend(addr.teredo)  # (server, client), the client de-obfuscated
    return found


def is_public_address(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True only for a global unicast address that embeds no non-global IPv4 either."""
    if not addr.is_global or addr.is_multicast:
        return False
    if isinstance(addr, ipaddress.IPv6Address):
        if addr in _NAT64_LOCAL_USE:
            return False  # local-use NAT64 is never globally routed (RFC 8215)
        return all(v4.is_global and not v4.is_multicast for v4 in embedded_ipv4(addr))
    return True


def _mime_for(path_or_url: str, expected: str) -> str:
    suffix = Path(urlparse(path_or_url).path).suffix.lower()
    table = {"image": IMAGE_TYPES, "video": VIDEO_TYPES, "audio": AUDIO_TYPES}[expected]
    if suffix in table:
        return table[suffix]
    guessed = mimetypes.guess_type(path_or_url)[0]
    return guessed or f"{expected}/*"


def resolve_media(value: str, settings: Settings, *, param: str, expected: str) -> MediaRef:
    """Turn a user-given path or URL into a vetted `MediaRef` of the expected kind."""
    value = value.strip()
    if not value:
        raise InvalidRequest(f"{param} is empty.", param=param)
    if value.startswith(("http://", "https://")):
        url = check_public_url(value, settings, param=param)
        return MediaRef(kind="url", url=url, mime=_mime_for(url, expected))
    if value.startswith("file://"):
        value = urlparse(value).path
    path = check_local_path(value, settings, param=param)
    table = {"image": IMAGE_TYPES, "video": VIDEO_TYPES, "audio": AUDIO_TYPES}[expected]
    if path.suffix.lower() not in table:
        accepted = ", ".join(sorted(table))
        raise InvalidRequest(f"{param}: '{path.name}' is not a supported {expected} file ({accepted}).", param=param)
    return MediaRef(kind="file", path=str(path), mime=table[path.suffix.lower()])
