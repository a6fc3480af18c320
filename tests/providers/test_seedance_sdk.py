"""The official Ark SDK (byteplus-python-sdk-v2, `byteplussdkarkruntime.Ark`) against the Seedance emulator.

Create, poll, list, cancel and fetch through BytePlus's own client hold the emulator (and so the
adapter's tests) to the contract the SDK encodes: paths, the `{"id"}` answer, task fields, the list
query (`filter.*`), and the `{"error": {code, param}}` envelope its exceptions read.
"""

from __future__ import annotations

import httpx
import pytest
from provider_utils import require_provider

require_provider("seedance")  # the rest of this module needs its package
from adapter_helpers import sdk_until
from emulators.seedance import SeedanceEmulator

arkruntime = pytest.importorskip("byteplussdkarkruntime")
from byteplussdkarkruntime import Ark  # noqa: E402
from byteplussdkarkruntime._exceptions import (  # noqa: E402
    ArkAuthenticationError,
    ArkBadRequestError,
    ArkNotFoundError,
)

MODEL = "dreamina-seedance-2-0-260128"


@pytest.fixture
def emu():
    with SeedanceEmulator() as emulator:
        emulator.steps = 2
        yield emulator


@pytest.fixture
def ark(emu):
    return Ark(base_url=emu.base_url, api_key=emu.api_key, max_retries=2)


def finish(ark, task_id: str):
    return sdk_until(lambda i: ark.content_generation.tasks.get(task_id=i), task_id, ("succeeded", "failed", "cancelled"))


def test_create_poll_and_fetch(ark, emu):
    created = ark.content_generation.tasks.create(
        model=MODEL, content=[{"type": "text", "text": "a lighthouse at dusk"}], ratio="21:9", resolution="720p",
        duration=4, generate_audio=True, watermark=False, seed=3, return_last_frame=True,
    )  # fmt: skip
    assert created.id.startswith("cgt-")
    assert ark.content_generation.tasks.get(task_id=created.id).status == "queued"
    task = finish(ark, created.id)
    assert task.status == "succeeded" and task.resolution == "720p" and task.ratio == "21:9" and task.duration == 4
    assert task.usage.completion_tokens == 1470 * 630 * 24 * 4 // 1024 and task.framespersecond == 24
    assert task.content.last_frame_url
    video = httpx.get(task.content.video_url)
    assert video.headers["content-type"] == "video/mp4" and video.content[4:8] == b"ftyp"
    assert emu.requests_to("create")[0].headers["authorization"] == f"Bearer {emu.api_key}"


def test_first_and_last_frame_roles(ark, emu):
    url = "https://images.example.com/a.png"
    created = ark.content_generation.tasks.create(model="dreamina-seedance-2-0-fast-260128", duration=5, content=[
        {"type": "text", "text": "morph"},
        {"type": "image_url", "image_url": {"url": url}, "role": "first_frame"},
        {"type": "image_url", "image_url": {"url": url}, "role": "last_frame"}])
    assert finish(ark, created.id).status == "succeeded"
    with pytest.raises(ArkBadRequestError) as bad:
        ark.content_generation.tasks.create(model=MODEL, content=[
            {"type": "image_url", "image_url": {"url": url}, "role": "last_frame"}])
    assert bad.value.code == "InvalidParameter" and bad.value.param == "content.role"


def test_list_filters_and_cancel_of_a_queued_task(ark, emu):
    done = ark.content_generation.tasks.create(model=MODEL, content=[{"type": "text", "text": "one"}])
    finish(ark, done.id)
    queued = ark.content_generation.tasks.create(model=MODEL, content=[{"type": "text", "text": "two"}])
    listed = ark.content_generation.tasks.list(page_num=1, page_size=10, model=MODEL)
    assert listed.total == 2 and [t.id for t in listed.items] == [queued.id, done.id]  # newest first
    only = ark.content_generation.tasks.list(status="succeeded", task_ids=[done.id, queued.id])
    assert [t.id for t in only.items] == [done.id] and only.items[0].usage.completion_tokens > 0
    assert emu.requests_to("list")[-1].query["filter.task_ids"] == [done.id, queued.id]
    ark.content_generation.tasks.delete(queued.id)
    assert ark.content_generation.tasks.get(task_id=queued.id).status == "cancelled"
    ark.content_generation.tasks.delete(done.id)  # a finished task's record is deleted
    with pytest.raises(ArkNotFoundError):
        ark.content_generation.tasks.get(task_id=done.id)


def test_failed_task_carries_its_error_code(ark, emu):
    emu.fail_next = ("OutputVideoSensitiveContentDetected", "The output video may contain sensitive content.")
    task = finish(ark, ark.content_generation.tasks.create(model=MODEL, content=[{"type": "text", "text": "x"}]).id)
    assert task.status == "failed" and task.error.code == "OutputVideoSensitiveContentDetected"


def test_error_envelopes_reach_the_sdk_as_its_own_exceptions(ark, emu):
    with pytest.raises(ArkBadRequestError) as bad:
        ark.content_generation.tasks.create(model=MODEL, content=[{"type": "text", "text": "x"}], duration=16)
    assert bad.value.param == "duration" and bad.value.type == "BadRequest"
    with pytest.raises(ArkNotFoundError) as missing:
        ark.content_generation.tasks.create(model="no-such-model", content=[{"type": "text", "text": "x"}])
    assert missing.value.code == "InvalidEndpointOrModel.NotFound"
    wrong = Ark(base_url=emu.base_url, api_key="ark-wrong", max_retries=0)
    with pytest.raises(ArkAuthenticationError):
        wrong.content_generation.tasks.get(task_id="cgt-anything")


def test_sdk_retries_429_on_reads(ark, emu):
    created = ark.content_generation.tasks.create(model=MODEL, content=[{"type": "text", "text": "x"}])
    emu.inject("poll", status=429, retry_after_ms=20, times=2)
    assert ark.content_generation.tasks.get(task_id=created.id).status == "queued"
    assert emu.count("poll") == 3
