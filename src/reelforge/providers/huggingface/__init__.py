"""Hugging Face Inference Providers: text-to-video through `router.huggingface.co`. Declaration only."""

from __future__ import annotations

from reelforge.providers.declaration import Declaration, Variable
from reelforge.providers.huggingface.facts import HuggingFaceFacts

DECLARATION = Declaration(
    name="huggingface",
    title="Hugging Face",
    adapter="reelforge.providers.huggingface.adapter:HuggingFaceProvider",
    variables=(
        Variable("HF_TOKEN", "key", "Hugging Face user access token (hf_..., 'Make calls to Inference Providers')"),
        # huggingface_hub hard-codes the router (constants.INFERENCE_PROXY_TEMPLATE) and reads no
        # variable for it; HF_INFERENCE_ENDPOINT is the retired serverless API, so this name is ours.
        Variable("HF_ROUTER_URL", "url", "Hugging Face Inference Providers router URL override", required=False,
                 default="https://router.huggingface.co"),
    ),
    facts=HuggingFaceFacts,
    # Never picked by `auto`: HF_TOKEN is often set only to download weights, and a paid video must
    # not be routed through it by surprise. Chosen by name (provider="huggingface").
    auto_rank=None,
)
