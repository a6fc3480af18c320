"""What `tools/list` costs every conversation: its size in bytes against the 15 KB budget.

Builds the server in-process on a throwaway home (no key, no network), lists the tools through a
real MCP client session, and prints the total, each tool's share (input schema, output schema,
description) largest first, and the ratio against the budget.

    python benchmarks/tools_size.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import anyio
from mcp import Client

from reelforge.server import build_server
from reelforge.settings import Settings

BUDGET_BYTES = 15 * 1024


def _size(value: object) -> int:
    return len(json.dumps(value, separators=(", ", ": ")))


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        async with Client(build_server(Settings(home=home / "home", allowed_input_roots=[home]))) as client:
            tools = (await client.list_tools()).tools
    rows = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
    total = _size(rows)
    print(f"{'tool':<18} {'bytes':>7} {'input':>7} {'output':>7} {'descr':>6}")
    for row in sorted(rows, key=_size, reverse=True):
        print(f"{row['name']:<18} {_size(row):>7} {_size(row.get('inputSchema')):>7} "
              f"{_size(row.get('outputSchema')) if 'outputSchema' in row else 0:>7} {len(row.get('description', '')):>6}")
    largest = max(rows, key=_size)
    print(f"tools/list: {total} bytes for {len(rows)} tools (about {total // 4} tokens); "
          f"largest: {largest['name']} ({_size(largest)} bytes)")
    print(f"ratio against the {BUDGET_BYTES}-byte budget: {total / BUDGET_BYTES:.2f}x (target <= 1.00x)")


if __name__ == "__main__":
    anyio.run(main)
