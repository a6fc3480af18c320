"""The prompts reelforge offers: a storyboard helper and product videos in house styles. Each turns
an idea into a plan that quotes first and drafts free with the preview provider."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server import MCPServer
from pydantic import Field


def register_prompts(mcp: MCPServer) -> None:
    @mcp.prompt(title="Product video in a house style")
    def product_video(
        product: Annotated[str, Field(description="The product, in a phrase.")],
        style: Annotated[Literal["studio", "lifestyle", "unboxing", "social"], Field(
            description="studio: clean turntable shots; lifestyle: in use; unboxing: hands and reveal; "
            "social: fast 9:16 cuts.")] = "studio",
    ) -> str:
        """A shot list and compose_timeline plan for a short product video in one of four house styles."""
        looks = {
            "studio": ("16:9", "seamless white sweep, soft key light, slow 360° turntable, macro detail shots",
                       "crossfade 0.5 s"),
            "lifestyle": ("16:9", "natural light, the product in use by a person, shallow depth of field",
                          "crossfade 0.75 s"),
            "unboxing": ("1:1", "top-down hands opening the box, reveal, first touch, close-ups", "cut"),
            "social": ("9:16", "bold colour, quick push-ins, text-safe top third, 1–2 s shots", "cut"),
        }
        ratio, look, joins = looks[style]
        return (
            f"Make a 12–20 s {style} video for: {product}. Look: {look}. Aspect ratio {ratio}.\n"
            f"1. Write 4–6 shots (prompt + duration), joined by {joins}, and a short title for the opening.\n"
            "2. Quote the shots with estimate_cost(compare=true) and tell me the total before spending.\n"
            f"3. Draft it free: compose_timeline with preset 'draft', orientation '{ratio}', each clip as "
            "{\"generate\": {\"prompt\": ..., \"provider\": \"preview\", \"duration_s\": ...}}; show me the poster.\n"
            "4. After I approve, render the same timeline with a real provider and preset 'high'."
        )

    @mcp.prompt(title="Storyboard an idea")
    def storyboard(idea: Annotated[str, Field(description="The video idea, in a sentence or two.")],
                   shots: Annotated[int, Field(ge=2, le=12)] = 4) -> str:
        """Turn an idea into a shot list and a compose_timeline request."""
        return (
            f"Plan a {shots}-shot video for this idea: {idea}\n"
            "1. Write each shot as a one-line prompt with a duration (3-6 s) and a transition to the next.\n"
            "2. Quote it with estimate_cost(compare=true) for the first shot, and tell me the total.\n"
            "3. Render a free draft with compose_timeline, each clip as {\"generate\": {\"prompt\": ..., "
            "\"provider\": \"preview\", \"duration_s\": ...}}, preset 'draft', and show me the poster.\n"
            "4. Only after I approve, re-render with a real provider."
        )
