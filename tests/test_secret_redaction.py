"""No secret reaches an error, the ledger, a receipt or a log line.

A real server process (streamable HTTP, INFO logging, stderr captured) drives a Runway emulator
that echoes the API key back in an error body, fails a job with a message that quotes the key and
a signed URL, and hands out signed output links (which httpx's own INFO line would print). A
request also carries a token in its query string (which uvicorn's access log would print). Then
every tool answer, the ledger's bytes (WAL included), every file beside the outputs and the whole
log are searched for each secret.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from provider_utils import require_provider
from emulators.runway import RunwayEmulator
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from reelforge.errors import InvalidRequest, ProviderFailure, to_tool_message
from reelforge.redact import redact, remember_secret

KEY = "key_SECRET123" + secrets.token_hex(8)
HTTP_TOKEN = "tok-" + secrets.token_hex(24)
QUERY_TOKEN = "qs" + secrets.token_hex(12)
SIGNATURE = "sig" + secrets.token_hex(16)
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
GEN = {"provider": "runway", "model": "gen4.5", "duration_s": 2, "wait_seconds": 30}


# --- the redactor itself ----------------------------------------------------------------------------


def test_redact_removes_keys_bearer_tokens_and_signed_queries():
    remember_secret("opaque-configured-value-42")
    text = (
        "Invalid key: Bearer key_SECRET123 and Authorization: Token r8_abcdefghijklmnopqrstuvwxyz; "
        "see https://cdn.example.com/v.mp4?X-Amz-Signature=abc123&X-Amz-Credential=AKIA/x and "
        "https://user:pa55@host.example/p, path /mcp?token=t0k3n, key opaque-configured-value-42, "
        "and api_key=zzz123 in a form"
    )
    clean = redact(text)
    for secret in ("key_SECRET123", "r8_abcdefghijklmnopqrstuvwxyz", "abc123", "AKIA", "pa55", "t0k3n",
                   "opaque-configured-value-42", "zzz123"):
        assert secret not in clean, (secret, clean)
    # What a reader needs survives: the host and path of a link, the words around the secrets.
    assert "https://cdn.example.com/v.mp4" in clean and "/mcp" in clean and "Invalid key" in clean


def test_plain_text_is_left_alone():
    text = "runway rejected the request (HTTP 400): idempotency_key 'kite-1' matches job job_0123456789abcdef."
    assert redact(text) == text


def test_a_file_named_like_a_key_is_a_file_but_a_key_is_still_a_key():
    files = "frames: /tmp/shots/key_frame_01.png, sk-board-2024.json and r8_output_0001.mp4"
    assert redact(files) == files
    for key in ("key_SECRET123abcdef", "sk-abc123def456", "r8_0123456789abcdefghij"):
        assert key not in redact(f"failed with {key}."), key
        assert key not in redact(f"failed with {key}"), key


def test_every_error_message_is_redacted_where_it_is_made():
    remember_secret(KEY)
    error = InvalidRequest(f"runway rejected the request (HTTP 400): Invalid request: Bearer {KEY}",
                           hint=f"sent to https://x.example/v?sig={SIGNATURE}")
    failure = ProviderFailure(f"upstream echoed {KEY}")
    for shown in (str(error), error.message, to_tool_message(error), str(failure), repr(failure.args)):
        assert KEY not in shown and SIGNATURE not in shown, shown


# --- a real server process ---------------------------------------------------------------------------


@pytest.fixture
def emu() -> Iterator[RunwayEmulator]:
    require_provider("runway")
    with RunwayEmulator(api_key=KEY) as emulator:
        yield emulator


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _texts(result) -> str:
    return json.dumps([c.model_dump(mode="json") for c in result.content]) + json.dumps(result.structured_content)


async def _drive(url: str, emu: RunwayEmulator) -> list[str]:
    """Three jobs (one succeeds, two fail echoing secrets); returns every tool answer as text."""
    answers: list[str] = []
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {HTTP_TOKEN}"}, timeout=60) as http, \
            Client(streamable_http_client(url, http_client=http)) as client:  # fmt: skip
        ok = await client.call_tool("generate_video", {"request": {**GEN, "prompt": "a kite"}})
        answers.append(_texts(ok))
        assert ok.structured_content["status"] == "succeeded", answers[-1]

        emu.inject("create", echo_status=400)  # the 400 body quotes "Bearer <key>"
        echoed = await client.call_tool("generate_video", {"request": {**GEN, "prompt": "a storm"}})
        answers.append(_texts(echoed))
        assert "rejected the request" in answers[-1], answers[-1]

        emu.fail_next = ("INTERNAL.BAD_OUTPUT", f"upstream refused Authorization: Bearer {KEY} for "
                         f"https://cdn.example.com/o.mp4?X-Amz-Signature={SIGNATURE}&X-Amz-Expires=3600")
        failed = await client.call_tool("generate_video", {"request": {**GEN, "prompt": "a lantern"}})
        answers.append(_texts(failed))
        assert "upstream refused" in answers[-1], answers[-1]
        for tool, args in (("list_jobs", {}), ("get_job", {"job_id": failed.structured_content["job_id"]})):
            answers.append(_texts(await client.call_tool(tool, args)))
    return answers


@pytest.mark.slow
async def test_no_secret_reaches_errors_ledger_receipts_or_logs(emu, tmp_path):
    home = tmp_path / "home"
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("REELFORGE_")},
           "REELFORGE_HOME": str(home), "REELFORGE_HTTP_TOKEN": HTTP_TOKEN, "REELFORGE_LOG_LEVEL": "INFO",
           "REELFORGE_POLL_MIN_INTERVAL_S": "0.02", "REELFORGE_POLL_MAX_INTERVAL_S": "0.1",
           "RUNWAYML_API_SECRET": KEY, "RUNWAYML_BASE_URL": emu.url}  # fmt: skip
    # Over HTTP, stdout is no wire: uvicorn writes its access log there, everything else goes to stderr.
    log_path, out_path = tmp_path / "server.log", tmp_path / "server.out"
    with log_path.open("wb") as log, out_path.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "reelforge", "serve", "--transport", "http", "--port", str(port)],
                                env=env, stdout=out, stderr=log, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.post(url, json=INIT, headers=HEADERS, timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, log_path.read_text()[-2000:]
                time.sleep(0.2)
        # A client that puts a token in the query string: uvicorn's access log would print the path.
        httpx.post(f"{url}?token={QUERY_TOKEN}", json=INIT, timeout=10,
                   headers={**HEADERS, "Authorization": f"Bearer {HTTP_TOKEN}"})
        with anyio.fail_after(120):
            answers = await _drive(url, emu)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    logs = log_path.read_text(errors="replace") + out_path.read_text(errors="replace")
    # The log really holds the lines that used to leak (so this test cannot pass by logging nothing).
    assert "HTTP Request: GET" in logs and "/files/" in logs, logs[-3000:]
    assert '"POST /mcp' in logs, logs[-3000:]

    output_tokens = [token for token in emu.issued_tokens()]
    assert output_tokens, "the emulator handed out no signed links"
    secrets_ = {"api key": KEY, "http token": HTTP_TOKEN, "query token": QUERY_TOKEN, "signature": SIGNATURE,
                **{f"output link token {i}": t for i, t in enumerate(output_tokens)}}  # fmt: skip
    ledger_bytes = b"".join(p.read_bytes() for p in home.glob("ledger.sqlite3*"))
    receipts = list(home.glob("outputs/*/receipt.json"))
    assert receipts, "no receipt was written"
    side_files = b"".join(p.read_bytes() for p in home.glob("outputs/*/*") if p.suffix in (".json", ".otio", ".txt"))
    haystacks = {"tool answers": "\n".join(answers).encode(), "ledger": ledger_bytes, "receipts": side_files,
                 "log": logs.encode()}  # fmt: skip
    leaks = [f"{name} in {where}" for name, secret in secrets_.items() for where, data in haystacks.items()
             if secret.encode() in data]  # fmt: skip
    assert not leaks, leaks
    # The first 8 characters of the key are not enough to rebuild it, but a half key is: none of it.
    assert KEY[:20].encode() not in b"".join(haystacks.values())


def test_a_hostile_error_body_is_redacted_in_bounded_time() -> None:
    """Only a bounded head of a provider's body is redacted: a megabyte of 'a.a.a.' must not stall the loop."""
    import time

    import httpx

    from reelforge.providers.http import response_message

    response = httpx.Response(400, text="a." * 500_000)
    started = time.perf_counter()
    message = response_message(response)
    assert time.perf_counter() - started < 5.0  # unbounded, this body takes minutes
    assert len(message) <= 300
