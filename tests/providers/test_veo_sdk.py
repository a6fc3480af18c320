"""Google's official SDK (google-genai) against the Veo emulator: the emulator is held to Google's own client.

google-genai 3.x no longer offers `models.generate_videos` on the Gemini Developer API ("only supported
in Gemini Enterprise Agent Platform"), but still reads Gemini API operations (`operations.get`, with
`_GenerateVideosOperation_from_mldev`) and downloads Gemini files (`files.download`). So:

* where the installed SDK still has the Gemini API `generate_videos` (google-genai < 3), the create is
  the SDK's own (its converters build the body);
* otherwise the create goes through the SDK's own transport (`_api_client.request`: its base URL,
  API version, `x-goog-api-key`) with the body google-genai 2.19.0's `_GenerateVideosSource_to_mldev` /
  `_GenerateVideosConfig_to_mldev` / `_Image_to_mldev` build for the same call (read in
  googleapis/python-genai at 2026-08-21; spelled out below). Polling and download are the SDK's own.
"""

from __future__ import annotations

import base64
import warnings

import pytest
from provider_utils import require_provider

require_provider("veo")  # the rest of this module needs its package
from emulators.veo import VeoEmulator
from media_utils import make_image

genai = pytest.importorskip("google.genai")
from google.genai import errors, types  # noqa: E402

MODEL = "veo-3.1-fast-generate-preview"


@pytest.fixture
def emu():
    with VeoEmulator() as emulator:
        emulator.steps = 1
        yield emulator


@pytest.fixture
def client(emu):
    options = types.HttpOptions(base_url=emu.url, api_version="v1beta")
    return genai.Client(api_key=emu.api_key, http_options=options)


def create(client, model: str, *, prompt: str, image: types.Image | None = None, config: types.GenerateVideosConfig):
    """`models.generate_videos` where the SDK still offers it on the Gemini API, else its 2.19.0 body."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return client.models.generate_videos(model=model, source=types.GenerateVideosSource(prompt=prompt, image=image),
                                                 config=config)
    except ValueError as exc:
        if "only supported in Gemini Enterprise" not in str(exc):
            raise
    instance: dict = {"prompt": prompt}
    if image is not None:
        instance["image"] = {"bytesBase64Encoded": base64.b64encode(image.image_bytes).decode(), "mimeType": image.mime_type}
    parameters = {"durationSeconds": config.duration_seconds, "aspectRatio": config.aspect_ratio,
                  "resolution": config.resolution, "negativePrompt": config.negative_prompt}
    if config.last_frame is not None:
        instance["lastFrame"] = {"bytesBase64Encoded": base64.b64encode(config.last_frame.image_bytes).decode(),
                                 "mimeType": config.last_frame.mime_type}
    body = {"instances": [instance], "parameters": {k: v for k, v in parameters.items() if v is not None}}
    response = client._api_client.request("post", f"models/{model}:predictLongRunning", body, None)
    import json

    return types.GenerateVideosOperation(name=json.loads(response.body)["name"])


def finish(client, operation):
    for _ in range(10):
        operation = client.operations.get(operation)
        if operation.done:
            return operation
    raise AssertionError("operation never finished")


def test_text_to_video_create_poll_and_download(client, emu):
    config = types.GenerateVideosConfig(duration_seconds=4, aspect_ratio="9:16", resolution="720p", negative_prompt="blur")
    operation = create(client, MODEL, prompt="a lighthouse at dusk", config=config)
    assert operation.name.startswith(f"models/{MODEL}/operations/")
    done = finish(client, operation)
    video = done.response.generated_videos[0].video  # the SDK's own Gemini API operation reader
    assert video.uri.startswith("https://generativelanguage.googleapis.com/v1beta/files/")
    data = client.files.download(file=video)  # the SDK takes the file name from the URI, fetches from base_url
    assert data[4:8] == b"ftyp"
    create_req = emu.requests_to("create")[0]
    assert create_req.path == f"/v1beta/models/{MODEL}:predictLongRunning"
    assert create_req.headers["x-goog-api-key"] == emu.api_key
    assert create_req.json["parameters"] == {"durationSeconds": 4, "aspectRatio": "9:16", "resolution": "720p",
                                             "negativePrompt": "blur"}
    download = emu.requests_to("download")[0]
    assert download.query["alt"] == ["media"] and download.headers["x-goog-api-key"] == emu.api_key


def test_first_and_last_frame(client, emu, tmp_path):
    png = make_image(tmp_path / "a.png").read_bytes()
    image = types.Image(image_bytes=png, mime_type="image/png")
    config = types.GenerateVideosConfig(duration_seconds=8, last_frame=image)
    done = finish(client, create(client, MODEL, prompt="slow dolly", image=image, config=config))
    assert done.response.generated_videos[0].video.uri
    inst = emu.requests_to("create")[0].json["instances"][0]
    assert set(inst) == {"prompt", "image", "lastFrame"} and inst["image"]["mimeType"] == "image/png"


def test_filtered_and_failed_operations_read_by_the_sdk(client, emu):
    emu.filter_next = True
    done = finish(client, create(client, MODEL, prompt="x", config=types.GenerateVideosConfig(duration_seconds=4)))
    assert done.response.rai_media_filtered_count == 1 and not done.response.generated_videos
    emu.fail_next = ("3", "Unsupported image")
    failed = finish(client, create(client, MODEL, prompt="y", config=types.GenerateVideosConfig(duration_seconds=4)))
    assert failed.error == {"code": 3, "message": "Unsupported image"}


def test_error_shapes_reach_the_sdk_as_its_own_exceptions(client, emu):
    with pytest.raises(errors.ClientError) as bad:
        create(client, MODEL, prompt="x", config=types.GenerateVideosConfig(duration_seconds=5))
    assert bad.value.code == 400 and bad.value.status == "INVALID_ARGUMENT"
    wrong = genai.Client(api_key="AIzaSy-wrong", http_options=types.HttpOptions(base_url=emu.url, api_version="v1beta"))
    with pytest.raises(errors.ClientError) as auth:
        wrong.operations.get(types.GenerateVideosOperation(name=f"models/{MODEL}/operations/abc"))
    assert auth.value.code == 400 and "API key not valid" in auth.value.message
    emu.rpm[MODEL] = 0
    with pytest.raises(errors.ClientError) as limited:
        create(client, MODEL, prompt="x", config=types.GenerateVideosConfig(duration_seconds=4))
    assert limited.value.code == 429 and limited.value.status == "RESOURCE_EXHAUSTED"
    assert any("RetryInfo" in d.get("@type", "") for d in limited.value.details["error"]["details"])
