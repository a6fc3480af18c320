"""Fixtures for provider adapter tests: emulators on loopback, settings pointing at them."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

# The emulators package lives in tests/; make it importable however pytest was started.
_TESTS_DIR = str(Path(__file__).resolve().parents[1])
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from emulators.base import Emulator  # noqa: E402
from reelforge.providers.http import RetryPolicy  # noqa: E402



@pytest.fixture
def fast_retry() -> RetryPolicy:
    """Real retry code paths with millisecond waits."""
    return RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=5.0)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def bare_emulator() -> Iterator[Emulator]:
    """A base emulator with no provider routes (only `/files/...`), for HTTP-layer tests."""
    with Emulator() as emu:
        yield emu



@pytest.fixture
async def http_client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0)) as client:
        yield client
