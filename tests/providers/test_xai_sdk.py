"""The official xai-sdk (1.21) against our adapter's requests: the SDK speaks gRPC only, so it cannot
be pointed at the REST emulator. What is checked instead, with the SDK's own code:

* request construction: for the same inputs, the SDK's `_make_generate_request` / `_make_extend_request`
  build `GenerateVideoRequest` / `ExtendVideoRequest` protos; their fields (by proto field name) must
  be exactly the top-level fields our adapter sends to the emulator, with the same values: `prompt`,
  `model`, `duration`, the aspect-ratio and resolution enums (`VIDEO_ASPECT_RATIO_16_9` <-> "16:9",
  `VIDEO_RESOLUTION_720P` <-> "720p", via the SDK's own maps), `generate_audio`, `image`, `last_frame`,
  `reference_images` and `video`. The one documented REST difference, `ImageUrlContent.image_url` sent
  as `{"url": ...}` in REST (docs.x.ai), is mapped explicitly; nothing else is renamed;
* every catalog aspect ratio and resolution is one the SDK's enum maps accept, and both catalog model
  ids are the SDK's `VideoGenerationModel` literals;
* the poll vocabulary: the SDK's `DeferredStatus` values (DONE, EXPIRED, PENDING, FAILED) are exactly the
  lower-cased status words the adapter maps, and the cost unit is the SDK's `USD_PER_TICK`.

Not checked here (no gRPC emulator): the SDK's own transport and polling loop.
"""

from __future__ import annotations

import typing

import pytest
from provider_utils import require_provider

require_provider("xai")
pytest.importorskip("xai_sdk")
from adapter_helpers import adapter_settings, file_ref, make_spec, model_entry, run_remote
from emulators.xai import XaiEmulator
from google.protobuf.json_format import MessageToDict
from media_utils import make_image
from xai_sdk import cost as sdk_cost
from xai_sdk import video as sdk_video
from xai_sdk.proto import deferred_pb2
from xai_sdk.types import VideoGenerationModel
from xai_sdk.types.video import VideoAspectRatioMap, VideoResolutionMap

from reelforge.providers.registry import load_catalog
from reelforge.providers.xai import wire
from reelforge.providers.xai.adapter import XaiProvider

V1, V15 = "grok-imagine-video", "grok-imagine-video-1.5"


@pytest.fixture
def emu():
    with XaiEmulator() as emulator:
        yield emulator


@pytest.fixture
def xai(emu, tmp_path, settings):
    return XaiProvider(adapter_settings(tmp_path, XAI_API_KEY=emu.api_key, XAI_BASE_URL=emu.url + "/v1"))


def _as_sdk(body: dict) -> dict:
    """Our REST body in the proto's field names and enum spellings (the documented `{url}` mapping)."""
    out = dict(body)
    out["aspect_ratio"] = _enum_name(VideoAspectRatioMap, body["aspect_ratio"], "VideoAspectRatio")
    out["resolution"] = _enum_name(VideoResolutionMap, body["resolution"], "VideoResolution")
    for key in ("image", "last_frame"):
        if key in out:
            out[key] = {"image_url": out[key]["url"], "detail": "DETAIL_AUTO"}
    if "reference_images" in out:
        out["reference_images"] = [{"image_url": r["url"], "detail": "DETAIL_AUTO"} for r in out["reference_images"]]
    return out


def _enum_name(mapping: dict, value: str, enum: str) -> str:
    from xai_sdk.proto import video_pb2

    return getattr(video_pb2, enum).Name(mapping[value])


def _proto(message) -> dict:
    return MessageToDict(message, preserving_proto_field_name=True)


async def test_generation_body_matches_the_sdk_request(xai, emu, tmp_path):
    first, last = make_image(tmp_path / "a.png", color="red"), make_image(tmp_path / "b.png", color="blue")
    spec = make_spec("xai", V15, duration_s=4, resolution="1080p", aspect_ratio="2:3", audio=False,
                     first_frame=file_ref(first), last_frame=file_ref(last))
    await run_remote(xai, spec, tmp_path / "out.mp4")
    body = emu.requests_to("create")[0].json
    sdk = sdk_video._make_generate_request(
        body["prompt"], V15, image_url=body["image"]["url"], last_frame_url=body["last_frame"]["url"],
        video_url=None, duration=4, aspect_ratio="2:3", resolution="1080p", reference_image_urls=None,
        generate_audio=False)
    assert _proto(sdk) == _as_sdk(body)


async def test_reference_body_matches_the_sdk_request(xai, emu, tmp_path):
    refs = [str(make_image(tmp_path / f"r{i}.png", color=c)) for i, c in enumerate(("red", "green", "blue"))]
    spec, _ = xai.normalize(make_spec("xai", V1, duration_s=8, extra={"reference_images": refs}),
                            model_entry("xai", V1))
    await run_remote(xai, spec, tmp_path / "out.mp4")
    body = emu.requests_to("create")[0].json
    sdk = sdk_video._make_generate_request(
        body["prompt"], V1, image_url=None, video_url=None, duration=8, aspect_ratio="16:9", resolution="480p",
        reference_image_urls=[r["url"] for r in body["reference_images"]])
    assert _proto(sdk) == _as_sdk(body)


async def test_extension_body_matches_the_sdk_request(xai, emu, tmp_path):
    source, _ = await run_remote(xai, make_spec("xai", V1, duration_s=3), tmp_path / "s.mp4")
    await run_remote(xai, make_spec("xai", V1, duration_s=4, continue_remote_id=source), tmp_path / "e.mp4")
    body = emu.requests_to("extend")[0].json
    sdk = sdk_video._make_extend_request(body["prompt"], V1, video_url=body["video"]["url"], duration=4)
    assert _proto(sdk) == body  # VideoUrlContent.url is `url` in both


def test_catalog_values_are_the_sdks():
    models = set(typing.get_args(VideoGenerationModel))
    for model in load_catalog().providers["xai"].models:
        assert model.remote_name in models
        assert set(model.capabilities.aspect_ratios) <= set(VideoAspectRatioMap)
        assert set(model.capabilities.resolutions) <= set(VideoResolutionMap)


def test_status_words_and_cost_unit_are_the_sdks():
    sdk_words = {name.lower() for name in deferred_pb2.DeferredStatus.keys() if name != "INVALID_DEFERRED_STATUS"}
    assert sdk_words == set(wire.STATES)
    assert wire.USD_PER_TICK == sdk_cost.USD_PER_TICK
