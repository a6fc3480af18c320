"""Streamable HTTP transport for agent frameworks and shared deployments, behind a bearer token.

The server refuses to start over HTTP without `REELFORGE_HTTP_TOKEN`: anyone who can reach the
port could otherwise spend the configured providers' money. Tokens are compared in constant time.
"""

from __future__ import annotations

import hmac
import logging
import sys

from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.settings import AuthSettings
from pydantic import AnyHttpUrl

from reelforge.settings import Settings

log = logging.getLogger(__name__)


class StaticTokenVerifier(TokenVerifier):
    """Accepts exactly one shared bearer token."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode(), self._token.encode()):
            return AccessToken(token="redacted", client_id="reelforge-http", scopes=["reelforge"])
        return None


def http_server(settings: Settings, *, host: str, port: int):
    from reelforge.server import build_server

    if settings.http_token is None or not settings.http_token.get_secret_value():
        raise SystemExit("The HTTP transport needs a token: set REELFORGE_HTTP_TOKEN to a long random string.")
    base = f"http://{host}:{port}"
    return build_server(
        settings,
        token_verifier=StaticTokenVerifier(settings.http_token.get_secret_value()),
        auth=AuthSettings(issuer_url=AnyHttpUrl(base), resource_server_url=AnyHttpUrl(f"{base}/mcp"),
                          required_scopes=["reelforge"]),
    )


def run_http(settings: Settings, *, host: str, port: int) -> int:
    server = http_server(settings, host=host, port=port)
    sys.stderr.write(f"reelforge: streamable HTTP on http://{host}:{port}/mcp (bearer token required)\n")
    server.run("streamable-http", host=host, port=port)
    return 0
