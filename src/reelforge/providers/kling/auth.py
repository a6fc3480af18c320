"""Kling's key-pair authentication: a short-lived HS256 JWT signed with the secret key.

Kling's published recipe (its API docs' Python sample, repeated by every public client): header
`{"alg": "HS256", "typ": "JWT"}`, payload `{"iss": <access key>, "exp": now + 1800, "nbf": now - 5}`,
sent as `Authorization: Bearer <jwt>`. A fresh token is minted for every request, so a long poll
never meets an expired one and nothing secret is kept between calls. Standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

#: Token lifetime and clock-skew allowance from Kling's published sample.
LIFETIME_S = 1800
SKEW_S = 5


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt_token(access_key: str, secret_key: str, *, now: float | None = None) -> str:
    """A signed token for `access_key`, valid from 5 s ago for 30 minutes."""
    issued = int(time.time() if now is None else now)
    header = {"alg": "HS256", "typ": "JWT"}
    payload = {"iss": access_key, "exp": issued + LIFETIME_S, "nbf": issued - SKEW_S}
    signing_input = ".".join(b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload))
    signature = hmac.new(secret_key.encode(), signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"
