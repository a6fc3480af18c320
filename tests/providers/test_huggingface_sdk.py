"""huggingface_hub's `InferenceClient.text_to_video` against the router emulator, and our adapter's
bodies compared with the SDK's for the same model: the emulator is held to Hugging Face's own client.

Nothing in the SDK is patched except where it would reach the network: its shared httpx2 client
gets a transport that sends `https://router.huggingface.co/...` to the emulator (so the SDK's own
URL logic, including fal's router-only `/fal-ai` prefix, runs unchanged), the Hub lookup of
`inferenceProviderMapping` is replaced by the SDK's documented hard-coded mapping table, and
Together's 2 s poll pause is shortened.
"""

from __future__ import annotations

import pytest
from provider_utils import require_provider

require_provider("huggingface")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, make_spec, model_entry
from emulators.huggingface import TOKEN, HuggingFaceEmulator

hub = pytest.importorskip("huggingface_hub")
httpx2 = pytest.importorskip("httpx2")
from huggingface_hub.hf_api import InferenceProviderMapping  # noqa: E402
from huggingface_hub.inference._providers import _common, together  # noqa: E402
from huggingface_hub.utils import _http  # noqa: E402

from reelforge.providers.huggingface.adapter import HuggingFaceProvider  # noqa: E402

ROUTER_HOST = "router.huggingface.co"


class _ToEmulator(httpx2.HTTPTransport):
    """Route the router's host to the emulator; refuse every other non-loopback host (no internet)."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    def handle_request(self, request):
        if request.url.host == ROUTER_HOST:
            request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
        elif request.url.host != "127.0.0.1":
            raise httpx2.ConnectError(f"test refused a request to {request.url.host}")
        return super().handle_request(request)


@pytest.fixture
def emu(monkeypatch):
    with HuggingFaceEmulator() as emulator:
        emulator.steps = 2
        port = int(emulator.url.rsplit(":", 1)[1])
        _http.set_client_factory(lambda: httpx2.Client(transport=_ToEmulator(port), follow_redirects=True))
        monkeypatch.setattr(together, "_VIDEO_POLLING_INTERVAL", 0.01)
        yield emulator
        _http.set_client_factory(_http.default_client_factory)


def map_model(monkeypatch, provider: str, hf_model: str, provider_model: str) -> None:
    mapping = InferenceProviderMapping(provider=provider, hf_model_id=hf_model, providerId=provider_model,
                                       status="live", task="text-to-video")
    monkeypatch.setitem(_common.HARDCODED_MODEL_INFERENCE_MAPPING, provider, {hf_model: mapping})


def sdk(provider: str):
    return hub.InferenceClient(provider=provider, api_key=TOKEN)


def ours(emu, tmp_path, model: str, **fields):
    """The body our adapter sends for a catalog-default request of `model`."""
    provider = HuggingFaceProvider(adapter_settings(tmp_path, HF_TOKEN=TOKEN, HF_ROUTER_URL=emu.url))
    return provider.body(make_spec("huggingface", model, **fields), model_entry("huggingface", model))


def test_fal_queue_through_the_router(emu, monkeypatch, tmp_path):
    map_model(monkeypatch, "fal-ai", "Wan-AI/Wan2.2-T2V-A14B", "fal-ai/wan/v2.2-a14b/text-to-video")
    extra = {"aspect_ratio": "16:9", "resolution": "480p", "frames_per_second": 16}
    video = sdk("fal-ai").text_to_video("a red kite over a beach", model="Wan-AI/Wan2.2-T2V-A14B", num_frames=81,
                                        seed=7, extra_body=extra)
    assert video[4:8] == b"ftyp"
    create = emu.requests_to("create")[0]
    assert create.path == "/fal-ai/fal-ai/wan/v2.2-a14b/text-to-video" and create.query == {"_subdomain": ["queue"]}
    assert create.headers["authorization"] == f"Bearer {TOKEN}"
    request_id = next(iter(emu.jobs))
    assert emu.requests_to("poll")[0].path == f"/fal-ai/fal-ai/wan/requests/{request_id}/status"
    assert emu.count("result") == 1 and emu.count("create") == 1
    assert create.json == ours(emu, tmp_path, "wan2.2-t2v-a14b-fal", duration_s=5, seed=7)


def test_together_v2_videos_through_the_router(emu, monkeypatch, tmp_path):
    map_model(monkeypatch, "together", "Wan-AI/Wan2.2-T2V-A14B", "Wan-AI/Wan2.2-T2V-A14B")
    extra = {"seconds": "5", "width": 854, "height": 480, "fps": 16, "output_format": "MP4"}
    video = sdk("together").text_to_video("a red kite over a beach", model="Wan-AI/Wan2.2-T2V-A14B", seed=3,
                                          extra_body=extra)
    assert video[4:8] == b"ftyp"
    create = emu.requests_to("create")[0]
    assert create.path == "/together/v2/videos"
    job_id = next(iter(emu.jobs))
    assert {p.path for p in emu.requests_to("poll")} == {f"/together/v2/videos/{job_id}"}
    assert create.json == ours(emu, tmp_path, "wan2.2-t2v-a14b-together", seed=3)


def test_replicate_blocking_create_through_the_router(emu, monkeypatch, tmp_path):
    """The SDK's `Prefer: wait` create answers with the finished output (and still a prediction id);
    our adapter sends the same body without the header and polls the id instead."""
    map_model(monkeypatch, "replicate", "Wan-AI/Wan2.1-T2V-14B", "wavespeedai/wan-2.1-t2v-480p")
    video = sdk("replicate").text_to_video("a red kite over a beach", model="Wan-AI/Wan2.1-T2V-14B",
                                           extra_body={"aspect_ratio": "16:9"})
    assert video[4:8] == b"ftyp"
    create = emu.requests_to("create")[0]
    assert create.path == "/replicate/v1/models/wavespeedai/wan-2.1-t2v-480p/predictions"
    assert create.headers["prefer"] == "wait" and emu.count("poll") == 0
    assert create.json == ours(emu, tmp_path, "wan2.1-t2v-480p-replicate")


def test_the_sdk_sees_the_routers_auth_error(emu, monkeypatch):
    map_model(monkeypatch, "together", "Wan-AI/Wan2.2-T2V-A14B", "Wan-AI/Wan2.2-T2V-A14B")
    client = hub.InferenceClient(provider="together", api_key="hf_not_the_right_one")
    with pytest.raises(hub.errors.HfHubHTTPError) as info:
        client.text_to_video("x", model="Wan-AI/Wan2.2-T2V-A14B")
    assert info.value.response.status_code == 401 and emu.jobs == {}
