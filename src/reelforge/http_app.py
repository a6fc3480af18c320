"""Streamable HTTP transport for agent frameworks and shared deployments, behind a bearer token.

The server refuses to start over HTTP without `REELFORGE_HTTP_TOKEN`, or with one that could be
guessed: anyone who can reach the port could otherwise spend the configured providers' money and
read files in the allowed folders. Tokens are compared in constant time.

The token is a static shared secret, not OAuth: the server publishes no OAuth metadata, so clients
are not sent looking for an authorization server that does not exist.
"""

from __future__ import annotations

import hmac
import logging
import sys
from pathlib import Path

from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl

from reelforge.errors import ReelforgeError
from reelforge.server_context import USER_SCOPE
from reelforge.settings import Settings

log = logging.getLogger(__name__)

#: A token must be at least this long, with at least MIN_TOKEN_DISTINCT different characters: 32 hex
#: characters carry 128 random bits, beyond any online guessing; "password" or "aaaa…" do not.
MIN_TOKEN_CHARS = 32
MIN_TOKEN_DISTINCT = 8


def token_problem(token: str) -> str | None:
    """Why `token` is too weak to guard a server that spends money, or None. Never echoes the token."""
    if len(token) < MIN_TOKEN_CHARS:
        return f"REELFORGE_HTTP_TOKEN is {len(token)} characters long"
    if len(set(token)) < MIN_TOKEN_DISTINCT:
        return f"REELFORGE_HTTP_TOKEN repeats {len(set(token))} different characters"
    return None


class StaticTokenVerifier(TokenVerifier):
    """Accepts the operator's shared bearer token (no limits but the server's own), and with a tiers
    file each user's token, whose access carries the user's name for their tier and their jobs."""

    def __init__(self, token: str | None, tiers_file: Path | None = None) -> None:
        self._token = token
        self._tiers_file = tiers_file

    async def verify_token(self, token: str) -> AccessToken | None:
        if self._token is not None and hmac.compare_digest(token.encode(), self._token.encode()):
            return AccessToken(token="redacted", client_id="reelforge-http", scopes=["reelforge"])
        if self._tiers_file is not None:
            from reelforge.tiers import load_tiers

            user = load_tiers(self._tiers_file).user_for_token(token)  # re-read when the file changes
            if user is not None:
                return AccessToken(token="redacted", client_id=user, scopes=["reelforge", USER_SCOPE])
        return None


def http_server(settings: Settings, *, host: str, port: int):
    from reelforge.server import build_server

    token = settings.http_token.get_secret_value() if settings.http_token else None
    if not token and settings.tiers_file is None:
        raise SystemExit("The HTTP transport needs a token: set REELFORGE_HTTP_TOKEN to a long random string "
                         "(e.g. `openssl rand -hex 32`), or REELFORGE_TIERS_FILE to a file of users and their tokens.")
    if settings.tiers_file is not None:
        from reelforge.tiers import load_tiers

        try:
            load_tiers(settings.tiers_file)  # a broken tiers file stops the start, with its reason
        except ReelforgeError as exc:
            raise SystemExit(str(exc)) from None
    problem = token_problem(token) if token else None
    if problem:
        raise SystemExit(
            f"{problem}; the HTTP transport needs at least {MIN_TOKEN_CHARS} characters with at least "
            f"{MIN_TOKEN_DISTINCT} different ones, e.g. `openssl rand -hex 32`. Anyone who can reach the port and "
            "guess the token can spend the configured providers' money and read files in the allowed folders.")
    base = f"http://{host}:{port}"
    return build_server(
        settings,
        token_verifier=StaticTokenVerifier(token or None, settings.tiers_file),
        # No resource_server_url: the SDK would then publish OAuth protected-resource metadata naming
        # `issuer_url` as an authorization server, and there is none (the token is a static secret).
        auth=AuthSettings(issuer_url=AnyHttpUrl(base), resource_server_url=None, required_scopes=["reelforge"]),
    )


def run_http(settings: Settings, *, host: str, port: int) -> int:
    server = http_server(settings, host=host, port=port)
    sys.stderr.write(f"reelforge: streamable HTTP on http://{host}:{port}/mcp (bearer token required)\n")
    server.run("streamable-http", host=host, port=port)
    return 0
