"""Spawn-to-initialize: reelforge against a bare mcp server, measured in the same run.

Both are started as a desktop host starts them (a fresh Python process on stdio); the clock stops
when the `initialize` result arrives. Runs alternate so machine noise hits both alike. Prints the
medians and the ratio (target: at most 1.15x).

    python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE_SERVER = '''
from mcp.server import MCPServer
mcp = MCPServer("bare")

@mcp.tool()
def echo(text: str) -> str:
    """Echo."""
    return text

mcp.run()
'''

INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {},
               "clientInfo": {"name": "startup-bench", "version": "1"}},
}


def spawn_to_initialize(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdin and proc.stdout
    proc.stdin.write((json.dumps(INITIALIZE) + "\n").encode())
    proc.stdin.flush()
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.kill()
    proc.wait()
    reply = json.loads(line)
    if "result" not in reply:
        raise RuntimeError(f"initialize failed: {reply}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare_server.py"
        bare.write_text(BARE_SERVER)
        env = {**os.environ, "REELFORGE_HOME": str(Path(tmp) / "home")}
        commands = {
            "bare mcp server": [sys.executable, str(bare)],
            "reelforge serve": [sys.executable, "-m", "reelforge", "serve"],
        }
        for argv in commands.values():  # warm the OS file cache once each
            spawn_to_initialize(argv, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                times[name].append(spawn_to_initialize(argv, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:16s} median {medians[name] * 1000:7.1f} ms  min {min(values) * 1000:7.1f} ms  ({len(values)} runs)")
    ratio = medians["reelforge serve"] / medians["bare mcp server"]
    print(f"ratio reelforge / bare mcp: {ratio:.3f}x (target <= 1.15x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
