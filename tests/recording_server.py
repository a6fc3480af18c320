"""`reelforge serve` over stdio that also records, as JSON lines in $REELFORGE_TEST_RECORD, each work
tool answer's kind (task or result) and each `tasks/*` call: evidence of what a client we did not write
(MCP Inspector) really did on the wire, since its CLI prints only the final result."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def _record(entry: dict) -> None:
    with Path(os.environ["REELFORGE_TEST_RECORD"]).open("a") as f:
        f.write(json.dumps(entry) + "\n")


def main() -> None:
    import reelforge.server_tasks as tasks

    intercept, get = tasks.ReelforgeTasks.intercept_tool_call, tasks._get

    async def recorded_intercept(self, params, ctx, call_next):  # type: ignore[no-untyped-def]
        answer = await intercept(self, params, ctx, call_next)
        task = isinstance(answer, dict) and answer.get("resultType") == "task"
        _record({"tool": params.name, "protocol": ctx.protocol_version, "task_id": answer["taskId"] if task else None})
        return answer

    async def recorded_get(ctx, params):  # type: ignore[no-untyped-def]
        answer = await get(ctx, params)
        _record({"method": "tasks/get", "task_id": params.task_id, "status": answer.get("status")})
        return answer

    tasks.ReelforgeTasks.intercept_tool_call = recorded_intercept  # type: ignore[method-assign]
    tasks._get = recorded_get
    from reelforge.cli import main as reelforge_main

    sys.argv = ["reelforge", "serve"]
    reelforge_main()


if __name__ == "__main__":
    main()
