"""Native extend where the provider returns the whole extended video (Veo 3.1, Sora extensions):
`extend_video` of one of the provider's own clips sends one extension request that names the
source, and the file it returns is the result as it is (probed: longer than the source, never the
source joined to itself again). Kling does not document which it returns, so its result's length
decides: both of its possible answers give the same clip."""

from __future__ import annotations

import pytest
from adapter_helpers import settle, start_job
from client_utils import make_client
from provider_utils import needs_providers

from reelforge.media.probe import probe

pytestmark = needs_providers("veo", "sora", "kling")


def _veo(settings):
    from emulators.veo import VeoEmulator

    emu = VeoEmulator()
    return emu, lambda: settings.with_provider_env(GEMINI_API_KEY=emu.api_key, GOOGLE_GEMINI_BASE_URL=emu.url), {
        "provider": "veo", "model": "veo-3.1-fast-generate-preview", "duration_s": 8, "resolution": "720p"}, \
        lambda req: "video" in req.json["instances"][0]


def _sora(settings):
    from emulators.sora import SoraEmulator

    emu = SoraEmulator()
    return emu, lambda: settings.with_provider_env(OPENAI_API_KEY=emu.api_key, OPENAI_BASE_URL=emu.url + "/v1"), {
        "provider": "sora", "model": "sora-2", "duration_s": 4}, lambda req: req.route == "extend"


def _kling(whole: bool):
    def make(settings):
        from emulators.kling import KlingEmulator

        emu = KlingEmulator()
        emu.extend_returns_whole = whole
        return emu, lambda: settings.with_provider_env(KLING_ACCESS_KEY=emu.access_key, KLING_SECRET_KEY=emu.secret_key,
                                                       KLING_BASE_URL=emu.url), {
            "provider": "kling", "model": "kling-v1-6", "duration_s": 5}, lambda req: "video-extend" in req.path
    return make


@pytest.mark.parametrize("make", [_veo, _sora, _kling(True), _kling(False)],
                         ids=["veo", "sora", "kling-returns-whole", "kling-returns-new-seconds"])
async def test_extend_takes_the_providers_whole_extended_video(settings, make) -> None:
    emu, configured, base, is_extension = make(settings)
    with emu:
        async with make_client(configured()) as client:
            source = await settle(client, await start_job(client, "generate_video", {**base, "prompt": "a kite"}))
            assert source["status"] == "succeeded", source
            extended = await settle(client, await start_job(client, "extend_video", {
                "source": {"job_id": source["job_id"]}, "prompt": "the kite climbs higher", **{
                    k: v for k, v in base.items() if k not in ("model",)}}))
    assert extended["status"] == "succeeded", extended
    before, after = probe(source["output"]["path"]), probe(extended["output"]["path"])
    assert after.duration_s > before.duration_s + 1  # the provider's lengthened clip, not the source alone
    creates = [r for r in emu.requests if r.route in ("create", "extend") and r.method == "POST"]
    assert len(creates) == 2, [r.path for r in creates]  # the clip, then one extension of it
    assert not is_extension(creates[0]) and is_extension(creates[1])
    if base["provider"] == "kling":  # measured: the whole video is used as it is, new seconds alone are joined
        whole = emu.extend_returns_whole
        assert after.duration_s == pytest.approx(before.duration_s + 4.5, abs=0.2)
        said = " ".join(extended.get("notes") or [])
        assert ("returned the whole extended video" if whole else "joined to the source") in said, said
