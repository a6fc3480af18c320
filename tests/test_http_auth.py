"""The HTTP transport's bearer token must be strong, and its metadata must not point clients at an
OAuth authorization server that does not exist (issue 8, item 11). The app is the real Starlette
app the server runs, driven in-process over ASGI.
"""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from reelforge import http_app
from reelforge.http_app import http_server

STRONG = "7f3c9a1e5b2d8f4a6c0e9b7d3a1f5c8e2b6d4a9f7c3e1b5d"  # 48 hex characters


@pytest.mark.parametrize("token", ["x", "s3cret-token-value", "a" * 64, "abababababababababababababababababab"])
def test_weak_tokens_are_refused_with_the_reason(settings, token: str) -> None:
    weak = settings.model_copy(update={"http_token": SecretStr(token)})
    with pytest.raises(SystemExit) as refused:
        http_server(weak, host="127.0.0.1", port=8765)
    message = str(refused.value.code)
    assert "REELFORGE_HTTP_TOKEN" in message and str(getattr(http_app, "MIN_TOKEN_CHARS", 32)) in message, message
    assert "guess" in message and "openssl rand -hex 32" in message, message
    assert token not in message or token == "x"  # the weak token itself is not echoed back


def test_a_random_token_is_accepted(settings) -> None:
    assert http_server(settings.model_copy(update={"http_token": SecretStr(STRONG)}), host="127.0.0.1", port=8765)


async def test_no_oauth_authorization_server_is_advertised(settings) -> None:
    server = http_server(settings.model_copy(update={"http_token": SecretStr(STRONG)}), host="127.0.0.1", port=8765)
    app = server.streamable_http_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8765") as http:
        for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource",
                     "/.well-known/oauth-authorization-server"):
            meta = await http.get(path)
            assert meta.status_code == 404, (path, meta.status_code, meta.text)
        refused = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                                  headers={"Accept": "application/json, text/event-stream"})
    assert refused.status_code == 401
    challenge = refused.headers.get("www-authenticate", "")
    assert challenge.startswith("Bearer") and "resource_metadata" not in challenge, challenge
