"""fal's official client (fal-client, module `fal_client`) against the emulator: the emulator is held to fal's own SDK.

fal_client builds its hosts at import time from `FAL_QUEUE_RUN_HOST`/`FAL_RUN_HOST` and always as
https (`QUEUE_URL_FORMAT`), and hard-codes `REST_URL` and `CDN_URL`; so the SDK is pointed at the
loopback emulator by patching those three module constants, the way its own URL builders read them.
"""

from __future__ import annotations

import httpx
import pytest
from provider_utils import require_provider

require_provider("fal")  # the rest of this module needs its package
from adapter_helpers import adapter_settings, model_entry
from emulators.fal import FalEmulator
from media_utils import make_image

fal_client = pytest.importorskip("fal_client")
from fal_client import client as fal_module  # noqa: E402

from reelforge.providers.fal.adapter import FalProvider  # noqa: E402

KLING_T2V = "fal-ai/kling-video/v3/pro/text-to-video"


@pytest.fixture
def emu():
    with FalEmulator() as emulator:
        emulator.steps = 2
        yield emulator


@pytest.fixture
def sdk(emu, monkeypatch):
    monkeypatch.setattr(fal_module, "QUEUE_URL_FORMAT", f"{emu.url}/")
    monkeypatch.setattr(fal_module, "REST_URL", emu.url)
    monkeypatch.setattr(fal_module, "CDN_URL", emu.url)
    return fal_client.SyncClient(key=emu.api_key)


def finish(handle):
    for status in handle.iter_events(with_logs=True, interval=0.01):
        last = status
    return last


def test_submit_status_result_and_download(sdk, emu):
    handle = sdk.submit(KLING_T2V, arguments={"prompt": "a lighthouse", "duration": "5", "generate_audio": False})
    assert handle.status_url == f"{emu.url}/fal-ai/kling-video/requests/{handle.request_id}/status"
    first = handle.status(with_logs=True)
    assert isinstance(first, fal_client.Queued) and first.position == 2
    assert isinstance(handle.status(with_logs=True), fal_client.InProgress)
    done = finish(handle)
    assert isinstance(done, fal_client.Completed) and done.error is None and "inference_time" in done.metrics
    result = handle.get()
    video = httpx.get(result["video"]["url"])
    assert video.headers["content-type"] == "video/mp4" and video.content[4:8] == b"ftyp"
    assert emu.requests_to("create")[0].headers["authorization"] == f"Key {emu.api_key}"


def test_the_sdk_and_the_adapter_derive_the_same_request_urls(sdk, emu, tmp_path):
    handle = sdk.submit("fal-ai/veo3.1/fast/image-to-video",
                        arguments={"prompt": "x", "image_url": "https://images.example.com/a.png", "duration": "4s"})
    assert handle.status_url.endswith(f"/fal-ai/veo3.1/requests/{handle.request_id}/status")
    fresh = sdk.get_handle("fal-ai/veo3.1/fast/image-to-video", handle.request_id)
    urls = (handle.status_url, handle.response_url, handle.cancel_url)
    assert (fresh.status_url, fresh.response_url, fresh.cancel_url) == urls
    adapter = FalProvider(adapter_settings(tmp_path, FAL_KEY=emu.api_key, FAL_QUEUE_RUN_HOST=emu.url))
    assert adapter._request_url(handle.request_id, model_entry("fal", "veo3.1-fast")) == handle.response_url


def test_cancel_then_status_and_a_second_cancel(sdk, emu):
    handle = sdk.submit(KLING_T2V, arguments={"prompt": "x"})
    handle.cancel()
    status = handle.status()
    assert isinstance(status, fal_client.Completed) and status.error_type == "request_cancelled"
    with pytest.raises(fal_client.FalClientHTTPError) as info:
        handle.cancel()
    assert info.value.status_code == 400


def test_storage_upload_then_use_the_url(sdk, emu, tmp_path):
    png = make_image(tmp_path / "frame.png", (320, 180), "orange").read_bytes()
    via_storage = sdk.upload(png, "image/png", "frame.png", repository="fal")
    assert emu.uploads[via_storage] == png and emu.count("upload") == 1 and emu.count("upload_target") == 1
    via_cdn = sdk.upload(png, "image/png", "frame.png")  # fal_client's default: the v3 CDN with a token
    assert emu.uploads[via_cdn] == png and emu.count("cdn_token") == 1
    handle = sdk.submit("fal-ai/kling-video/v2.1/pro/image-to-video",
                        arguments={"prompt": "zoom in", "image_url": via_storage, "tail_image_url": via_cdn})
    assert isinstance(finish(handle), fal_client.Completed) and handle.get()["video"]["url"]


def test_error_shapes_reach_the_sdk_as_its_own_exceptions(sdk, emu):
    with pytest.raises(fal_client.FalClientHTTPError) as bad:
        sdk.submit("fal-ai/veo3.1/fast", arguments={"prompt": "x", "duration": "5s"})
    assert bad.value.status_code == 422 and bad.value.message[0]["loc"] == ["body", "duration"]
    with pytest.raises(fal_client.FalClientHTTPError) as unknown:
        sdk.submit("fal-ai/no-such-app", arguments={})
    assert unknown.value.status_code == 404
    wrong = fal_client.SyncClient(key="wrong:key")
    with pytest.raises(fal_client.FalClientHTTPError) as denied:
        wrong.status(KLING_T2V, "anything")
    assert denied.value.status_code == 401


def test_a_moderated_request_completes_with_an_error_and_its_result_is_422(sdk, emu):
    emu.fail_next = ("content_policy_violation", "The content was flagged by a content checker.")
    handle = sdk.submit(KLING_T2V, arguments={"prompt": "x"})
    done = finish(handle)
    assert isinstance(done, fal_client.Completed) and done.error_type == "content_policy_violation"
    with pytest.raises(fal_client.FalClientHTTPError) as info:
        handle.get()
    assert info.value.status_code == 422 and info.value.message[0]["type"] == "content_policy_violation"


def test_sdk_retries_429_on_status_reads(sdk, emu):
    handle = sdk.submit(KLING_T2V, arguments={"prompt": "x"})
    emu.inject("poll", status=429, times=2)
    assert isinstance(handle.status(), fal_client.Queued)
    assert emu.count("poll") == 3
