"""Shared fixtures: an isolated data directory, settings, and an in-memory MCP client.

Every test gets its own home (ledger, outputs), no provider keys from the developer's
environment, and fast polling. `make_client(settings)` connects a fresh in-memory `Client` to a
server built for those settings (each connection runs the server's lifespan, so a second client on
the same settings is a restarted server).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from client_utils import make_client
from mcp import Client
from pg_utils import ledger, pg_server, pg_url  # noqa: F401 (fixtures: store tests on SQLite and PostgreSQL)

from reelforge.providers.registry import declarations
from reelforge.settings import Settings

#: Every variable an installed provider declares (keys, credential files, base URLs): scrubbed so a
#: developer's own keys never reach a test. Derived, so a new provider needs no edit here.
PROVIDER_ENV = frozenset(v.name for d in declarations().values() for v in d.variables)


@pytest.fixture(scope="session", autouse=True)
def job_engine(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The durable engine is one per process, launched by the first studio that serves; launched here
    first, so every test shares one that runs all queues and polls them fast (a command-line test would
    otherwise launch it listening to none)."""
    import anyio

    from reelforge.jobs.engine import start_engine

    settings = Settings(home=tmp_path_factory.mktemp("engine"), queue_poll_s=0.05)
    anyio.run(start_engine, settings, anyio.to_thread.run_sync)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for var in list(os.environ):
        if var.startswith("REELFORGE_") or var in PROVIDER_ENV:
            monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return Settings(
        home=tmp_path / "home", allowed_input_roots=[tmp_path], wait_seconds=60,
        poll_min_interval_s=0.02, poll_max_interval_s=0.1, queue_poll_s=0.05,
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[Client]:
    async with make_client(settings) as c:
        yield c
