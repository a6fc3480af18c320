"""Approving a quoted cost before paying: the resolver every paid tool runs first.

It prepares the call once (the prepared job rides on the request to the tool body), refuses bad
input before anything else, and above the confirmation threshold asks the user through
elicitation where the host supports it. Hosts without elicitation get no question; the tool then
refuses with a message telling the model to ask the user and call again with confirm=true.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, Elicit
from pydantic import BaseModel, Field

from reelforge.jobs.status import JobKind
from reelforge.server_context import caller, studio_of
from reelforge.studio.tool_schemas import BatchRequest, ComposeRequest, ExtendRequest, GenerateRequest, LoopRequest


class CostApproval(BaseModel):
    """The user's answer to a cost question (flat, so every elicitation-capable client can render it)."""

    approve: bool = Field(description="Spend this amount?")


async def _ask_approval(kind: JobKind, request: Any, ctx: Context) -> CostApproval | Elicit[CostApproval]:
    """Ask the user (elicitation) to approve a quoted cost above the threshold.

    The request is prepared here, once, and the prepared job rides on the request to the tool body.
    A refusal (bad input, budget) raises here and becomes the tool's error. Hosts without
    elicitation get no question; the tool then refuses with a message telling the model to ask the
    user and call again with confirm=true.
    """
    if request.confirm:
        return CostApproval(approve=True)
    from reelforge.studio.launch import prepare_off_loop
    from reelforge.studio.operations import OPERATIONS
    from reelforge.studio.caller import acting_as
    from reelforge.studio.reattach import find_existing

    studio = await studio_of(ctx)
    with acting_as(caller()):
        prepared = await prepare_off_loop(studio, OPERATIONS[kind].prepare, request)
        request._prepared = prepared
        existing = find_existing(studio, prepared, request)
    if prepared.quote_usd <= studio.settings.confirm_above_usd:
        return CostApproval(approve=False)
    if existing is not None:
        return CostApproval(approve=False)  # re-attaching to an existing job costs nothing
    caps = ctx.client_capabilities
    if caps is None or getattr(caps, "elicitation", None) is None:
        return CostApproval(approve=False)
    return Elicit(f"{prepared.what} costs about ${prepared.quote_usd:.2f} (list price). Spend it?", CostApproval)


async def approve_generate(request: GenerateRequest, ctx: Context) -> CostApproval | Elicit[CostApproval]:
    return await _ask_approval("generate", request, ctx)


async def approve_extend(request: ExtendRequest, ctx: Context) -> CostApproval | Elicit[CostApproval]:
    return await _ask_approval("extend", request, ctx)


async def approve_loop(request: LoopRequest, ctx: Context) -> CostApproval | Elicit[CostApproval]:
    return await _ask_approval("loop", request, ctx)


async def approve_compose(request: ComposeRequest, ctx: Context) -> CostApproval | Elicit[CostApproval]:
    return await _ask_approval("compose", request, ctx)


async def approve_batch(request: BatchRequest, ctx: Context) -> CostApproval | Elicit[CostApproval]:
    return await _ask_approval("batch", request, ctx)
