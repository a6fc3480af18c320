"""Redaction: no secret leaves the process in an error, a ledger row, a receipt or a log line.

Providers echo what they were sent (an error page quoting the Authorization header, a failure
text with a signed URL), so text that came from outside is never trusted to be clean. Every
`ReelforgeError` passes its message and hint through `redact` when it is made (so the tool error,
the ledger row and a parent's "step failed" text all start clean), and `reelforge.logs` does the
same for every log record. Two layers:

* the exact values of configured secrets: provider keys as they are read (`Settings.key_for`)
  and every secret setting at server start (the HTTP token);
* shapes that are secrets whatever their value: bearer and basic credentials, Authorization
  headers, well-known key prefixes (`key_`, `sk-`, `r8_`, JWTs), URL user info, query strings
  (signed links keep their signature there) and secret-named parameters (`token=`, `sig=` ...).

Only the secret part is replaced, so "https://cdn.example.com/v.mp4?[redacted]" still says which
file failed. Pure standard library: imported by `errors`, so by every module.
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

REDACTED = "[redacted]"
#: Shorter values would blank ordinary words; real keys and tokens are far longer.
MIN_SECRET_LENGTH = 6

_lock = threading.Lock()
_secrets: set[str] = set()
_values: re.Pattern[str] | None = None

_TOKEN_CHARS = r"[\w.~+/=:-]"
#: (pattern, replacement), compiled at the first redaction: not at server start, which never needs them.
_RULES: list[tuple[str, str]] = [
    # user:password@ in any URL
    (r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@\"'<>]+(?::[^/\s@\"'<>]*)?@", rf"\1{REDACTED}@"),
    # the query string (and fragment) of a URL: where signed links keep their signature
    (r"(?i)\b(https?://[^\s?#\"'<>]+)[?#][^\s\"'<>]*", rf"\1?{REDACTED}"),
    # a bare path with a query, as in an access log line ("POST /mcp?token=... HTTP/1.1")
    (r"(?<![\w/.:~-])(/[\w./%~+-]*)\?[^\s\"'<>]+", rf"\1?{REDACTED}"),
    # secret-named parameters outside a URL (form bodies, echoed queries)
    (r"(?i)\b((?:x-amz-|x-goog-)?(?:signature|credential|security-token)|sig|token|access_token|"
                r"refresh_token|id_token|api[_-]?key|client_secret|secret|password|key-pair-id)=([^&\s\"'<>]+)",
     rf"\1={REDACTED}"),
    # header lines and JSON fields that carry a credential
    (r"(?i)\b(authorization|proxy-authorization|x-api-key|api-key|x-goog-api-key|api_key|apikey)"
                r"([\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|basic|token|key)\s+)?[^\s\"',;}&]+", rf"\1\2{REDACTED}"),
    # "Bearer <token>" / "Basic <token>" wherever it appears (a token has a digit, or is long)
    (rf"(?i)\b(bearer|basic|token)\s+(?:(?={_TOKEN_CHARS}*\d){_TOKEN_CHARS}{{6,}}|{_TOKEN_CHARS}{{20,}})",
     rf"\1 {REDACTED}"),
    # well-known key shapes: Runway key_..., OpenAI-style sk-..., Replicate r8_..., JWTs (MiniMax). A name
    # followed by a file extension is a file ("key_frame_01.png"), never a key: the possessive `{8,}+`
    # keeps the match from backing off the extension to a shorter prefix.
    (r"\b(?:key_|sk-|r8_)(?=[\w-]*\d)[\w-]{8,}+(?!\.[A-Za-z0-9]{2,5}\b)", REDACTED),
    (r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}", REDACTED),
]


@functools.cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(pattern), replacement) for pattern, replacement in _RULES]


def remember_secret(value: str | None) -> None:
    """Redact this exact value from now on (a key as it is read, a token at start)."""
    if not value:
        return
    value = value.strip()
    if len(value) < MIN_SECRET_LENGTH or value in _secrets:
        return
    global _values
    with _lock:
        _secrets.add(value)
        # Longest first, so a key that contains another secret is removed whole.
        _values = re.compile("|".join(re.escape(v) for v in sorted(_secrets, key=len, reverse=True)))


def remember_settings(settings: Any) -> None:
    """Remember every secret-typed setting (provider keys, the HTTP token)."""
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if hasattr(value, "get_secret_value"):
            remember_secret(value.get_secret_value())


def redact(text: str) -> str:
    """The text with every known secret value and every secret-shaped part replaced."""
    if not text:
        return text
    values = _values
    if values is not None:
        text = values.sub(REDACTED, text)
    for pattern, replacement in _patterns():
        text = pattern.sub(replacement, text)
    return text
