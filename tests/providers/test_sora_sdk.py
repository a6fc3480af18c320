"""OpenAI's official SDK (openai 3.57, `client.videos`) against the emulator: the emulator is held to
OpenAI's own client. The SDK sends every create as multipart/form-data, nests objects as
`input_reference[image_url]` / `video[id]`, and marks the whole Videos API deprecated (shut down on
2026-09-24), so its DeprecationWarnings are expected here.
"""

from __future__ import annotations

import warnings

import pytest
from provider_utils import require_provider

require_provider("sora")  # the rest of this module needs its package
from adapter_helpers import sdk_until
from emulators.sora import SoraEmulator, _form
from media_utils import make_image

openai = pytest.importorskip("openai")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def emu():
    with SoraEmulator() as emulator:
        emulator.steps = 2
        yield emulator


@pytest.fixture
def sdk(emu):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with openai.OpenAI(api_key=emu.api_key, base_url=emu.url + "/v1", max_retries=2) as client:
            yield client


def finish(sdk, video_id: str):
    return sdk_until(sdk.videos.retrieve, video_id, ("completed", "failed"))


def test_create_retrieve_and_download_content(sdk, emu):
    created = sdk.videos.create(prompt="a lighthouse at dusk", model="sora-2", seconds="8", size="1280x720")
    assert created.status == "queued" and created.progress == 0 and created.id.startswith("video_")
    assert created.seconds == "8" and created.size == "1280x720" and created.model == "sora-2"
    done = finish(sdk, created.id)
    assert done.status == "completed" and done.progress == 100 and done.expires_at > done.created_at
    content = sdk.videos.download_content(created.id)
    assert content.content[4:8] == b"ftyp"
    thumb = sdk.videos.download_content(created.id, variant="thumbnail")
    assert thumb.content[:4] == b"RIFF" and thumb.content[8:12] == b"WEBP"
    create = emu.requests_to("create")[0]
    assert create.headers["content-type"].startswith("multipart/form-data")
    assert _form(create)[0] == {"prompt": "a lighthouse at dusk", "model": "sora-2", "seconds": "8", "size": "1280x720"}
    assert all(r.headers["authorization"] == f"Bearer {emu.api_key}" for r in emu.requests)


def test_progress_is_an_integer_percent(sdk, emu):
    emu.steps = 4
    created = sdk.videos.create(prompt="waves", model="sora-2-pro", seconds="4", size="1792x1024")
    seen = [sdk.videos.retrieve(created.id) for _ in range(5)]
    assert [v.status for v in seen] == ["queued", "in_progress", "in_progress", "in_progress", "completed"]
    assert [v.progress for v in seen] == [0, 25, 50, 75, 100]


def test_uploaded_input_reference_must_match_the_size(sdk, emu, tmp_path):
    good = make_image(tmp_path / "good.png", (720, 1280), "teal")
    created = sdk.videos.create(prompt="zoom in", seconds="4", size="720x1280", input_reference=good)
    assert finish(sdk, created.id).status == "completed"
    assert _form(emu.requests_to("create")[0])[1]["input_reference"] == ("image/png", good.read_bytes())
    bad = make_image(tmp_path / "bad.png", (640, 480), "teal")
    with pytest.raises(openai.BadRequestError) as info:
        sdk.videos.create(prompt="zoom in", seconds="4", size="720x1280", input_reference=bad)
    assert info.value.code == "invalid_value" and info.value.param == "input_reference"
    assert "must match the requested width and height" in info.value.message


def test_reference_objects_go_as_json(sdk, emu):
    """The SDK types allow `input_reference={"image_url"}` and `video={"id"}`, but its multipart file
    extraction refuses a dict (openai 3.57), so the adapter sends those two as JSON: checked here
    through the SDK's own low-level `post`, which parses the answer as its `Video` type."""
    from openai.types import Video

    url = "https://images.example.com/first.png"
    with pytest.raises(RuntimeError, match="input_reference"):
        sdk.videos.create(prompt="a kite", seconds="4", input_reference={"image_url": url})
    created = sdk.post("/videos", cast_to=Video, body={"prompt": "a kite", "seconds": "4", "input_reference": {"image_url": url}})
    assert emu.requests_to("create")[-1].json["input_reference"] == {"image_url": url}
    finish(sdk, created.id)
    with pytest.raises(RuntimeError, match="video"):
        sdk.videos.extend(prompt="the kite dives", seconds="8", video={"id": created.id})
    extended = sdk.post("/videos/extensions", cast_to=Video,
                        body={"prompt": "the kite dives", "seconds": "8", "video": {"id": created.id}})
    assert finish(sdk, extended.id).seconds == "12"  # the stitched total


def test_failed_video_carries_error_code(sdk, emu):
    emu.fail_next = ("moderation_blocked", "Your request was blocked by our moderation system.")
    video = finish(sdk, sdk.videos.create(prompt="x", seconds="4").id)
    assert video.status == "failed" and video.error.code == "moderation_blocked"


def test_list_pages_and_delete(sdk, emu):
    ids = [sdk.videos.create(prompt=f"clip {n}", seconds="4").id for n in range(3)]
    first = sdk.videos.list(limit=2, order="asc")
    assert [v.id for v in first.data] == ids[:2] and first.has_more
    assert [v.id for v in sdk.videos.list(limit=2, order="asc").iter_pages().__next__().data] == ids[:2]
    assert [v.id for v in sdk.videos.list(order="asc", limit=10)] == ids
    assert [v.id for v in sdk.videos.list(order="asc", after=ids[0], limit=10)] == ids[1:]
    deleted = sdk.videos.delete(ids[1])
    assert deleted.deleted and deleted.object == "video.deleted"
    assert [v.id for v in sdk.videos.list(order="asc")] == [ids[0], ids[2]]
    with pytest.raises(openai.NotFoundError):
        sdk.videos.retrieve(ids[1])


def test_error_shapes_reach_the_sdk_as_its_own_exceptions(sdk, emu):
    with pytest.raises(openai.BadRequestError) as bad:
        sdk.videos.create(prompt="x", model="sora-2", size="1792x1024")
    assert bad.value.param == "size" and bad.value.type == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as seconds:
        sdk.videos.create(prompt="x", seconds="5")  # type: ignore[arg-type]
    assert seconds.value.param == "seconds"
    with openai.OpenAI(api_key="sk-wrong", base_url=emu.url + "/v1", max_retries=0) as wrong:
        with pytest.raises(openai.AuthenticationError) as auth:
            wrong.videos.retrieve("video_" + "0" * 32)
    assert auth.value.code == "invalid_api_key"
    emu.out_of_quota = True
    with pytest.raises(openai.RateLimitError) as quota:
        sdk.videos.create(prompt="x")
    assert quota.value.code == "insufficient_quota"


def test_sdk_retries_429_honouring_retry_after_ms(sdk, emu):
    created = sdk.videos.create(prompt="x", seconds="4")
    emu.inject("poll", status=429, retry_after_ms=20, times=2)
    assert sdk.videos.retrieve(created.id).status == "queued"
    assert emu.count("poll") == 3


def test_content_needs_the_key(sdk, emu):
    import httpx

    created = sdk.videos.create(prompt="x", seconds="4")
    finish(sdk, created.id)
    anonymous = httpx.get(f"{emu.url}/v1/videos/{created.id}/content")
    assert anonymous.status_code == 401
