"""Local model rules, request planning, options and weight lookup: pure python, no torch needed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from provider_utils import require_provider

require_provider("local")  # the rest of this module needs its package
from hypothesis import given
from hypothesis import strategies as st

from reelforge.providers.registry import load_catalog
from reelforge.errors import InputNotAllowed, InvalidRequest, UnsupportedParameter
from reelforge.providers.local.options import LocalOptions
from reelforge.settings import Settings
from reelforge.providers.local.plan import build_plan
from reelforge.providers.local.provider import LocalDiffusersProvider
from reelforge.providers.local.specs import MODELS, snap_frames, snap_request, snap_size
from reelforge.providers.local.store import cached_snapshot, locate
from reelforge.generation_spec import GenerationSpec, MediaRef

LTX, WAN_T2V, WAN_I2V, TI2V = "ltx-video-0.9.8-distilled", "wan2.2-t2v-a14b", "wan2.2-i2v-a14b", "wan2.2-ti2v-5b"


def spec_for(model: str, **kw: object) -> GenerationSpec:
    base: dict[str, object] = dict(provider="local", model=model, prompt="a cat", duration_s=5.0, aspect_ratio="16:9",
                                   resolution="480p", width=854, height=480, fps=24, seed=1)
    base.update(kw)
    return GenerationSpec(**base)  # type: ignore[arg-type]


def ref(path: Path) -> MediaRef:
    path.write_bytes(b"x")
    return MediaRef(kind="file", path=str(path), mime="image/png")


def test_frame_rules() -> None:
    assert snap_frames(5.0, 24, MODELS[LTX]) == 121  # the LTX 5 s clip
    assert snap_frames(5.0, 16, MODELS[WAN_T2V]) == 81  # the Wan 5 s clip
    assert snap_frames(5.0, 24, MODELS[TI2V]) == 121
    assert snap_frames(0.1, 24, MODELS[LTX]) == 9  # the minimum
    assert snap_frames(60, 24, MODELS[LTX]) == 257  # the maximum


def test_size_rules_keep_aspect_and_cap_area() -> None:
    assert snap_size(768, 512, MODELS[LTX]) == (768, 512)
    assert snap_size(854, 480, MODELS[WAN_T2V]) == (848, 480)
    assert snap_size(1920, 1080, MODELS[WAN_T2V]) == (1280, 720)  # scaled to the training area
    assert snap_size(640, 360, MODELS[LTX], max_area=1024) == (32, 32)


@given(st.integers(16, 4096), st.integers(16, 4096), st.floats(0.1, 20), st.sampled_from(sorted(MODELS)))
def test_snapped_requests_always_satisfy_the_model(w: int, h: int, seconds: float, model_id: str) -> None:
    spec = MODELS[model_id]
    snap = snap_request(w, h, 24, seconds, spec)
    assert snap.width % spec.dims_multiple == 0 and snap.height % spec.dims_multiple == 0
    assert snap.width * snap.height <= spec.max_area
    assert (snap.frames - 1) % spec.frames_multiple == 0
    assert spec.min_frames <= snap.frames <= spec.max_frames
    assert snap.fps in spec.fps_choices
    again = snap_request(snap.width, snap.height, snap.fps, snap.frames / snap.fps, spec)
    assert (again.width, again.height, again.frames) == (snap.width, snap.height, snap.frames)


def test_normalize_reports_each_change_and_is_stable(settings) -> None:
    provider = LocalDiffusersProvider(settings)
    model = load_catalog().find("local", WAN_T2V)
    spec, notes = provider.normalize(spec_for(WAN_T2V, fps=24), model)
    assert (spec.width, spec.height, spec.fps) == (848, 480, 16)
    assert spec.duration_s == pytest.approx(81 / 16)
    assert any(n.startswith("fps 24 -> 16") for n in notes)
    assert any(n.startswith("size 854x480 -> 848x480") for n in notes)
    assert any("81 frames at 16 fps = 5.06 s" in n for n in notes)
    assert provider.normalize(spec, model)[1] == []


def test_normalize_fixes_a_reproducible_seed(settings) -> None:
    provider = LocalDiffusersProvider(settings)
    model = load_catalog().find("local", LTX)
    a, notes = provider.normalize(spec_for(LTX, seed=None), model)
    b, _ = provider.normalize(spec_for(LTX, seed=None), model)
    assert a.seed is not None and a.seed == b.seed
    assert any(n.startswith(f"seed {a.seed}") for n in notes)


def test_tasks_route_by_inputs(tmp_path: Path) -> None:
    img, last = ref(tmp_path / "a.png"), ref(tmp_path / "b.png")
    roots = [tmp_path]
    assert build_plan(spec_for(LTX), MODELS[LTX], roots).task == "t2v"
    assert build_plan(spec_for(LTX, first_frame=img), MODELS[LTX], roots).task == "i2v"
    flf = build_plan(spec_for(WAN_I2V, fps=16, first_frame=img, last_frame=last), MODELS[WAN_I2V], roots)
    assert flf.task == "keyframes" and [k.frame for k in flf.keyframes] == [0, 80]
    loop = build_plan(spec_for(LTX, loop=True, first_frame=img), MODELS[LTX], roots)
    assert loop.drop_last and [k.frame for k in loop.keyframes] == [0, loop.frames - 1]
    assert loop.frames == 121  # 5 s + the repeated frame, dropped on write: 120 frames = 5.0 s
    video = MediaRef(kind="file", path=str(tmp_path / "a.mp4"), mime="video/mp4")
    ext = build_plan(spec_for(LTX, video=video), MODELS[LTX], roots)
    assert ext.task == "extend" and ext.frames == 120 and ext.extend_from == tmp_path / "a.mp4"


def test_keyframes_by_frame_or_time(tmp_path: Path) -> None:
    a, b = ref(tmp_path / "a.png"), ref(tmp_path / "b.png")
    extra = {"keyframes": [{"path": a.path, "time_s": 2.0}, {"path": b.path, "frame": 100}]}
    plan = build_plan(spec_for(LTX, extra=extra), MODELS[LTX], [tmp_path])
    assert [(k.path.name, k.frame) for k in plan.keyframes] == [("a.png", 48), ("b.png", 100)]


@pytest.mark.parametrize(
    ("model", "kwargs", "error", "needle"),
    [
        (WAN_T2V, {"first_frame": "img"}, UnsupportedParameter, "wan2.2-i2v-a14b"),
        (TI2V, {"first_frame": "img", "last_frame": "img"}, UnsupportedParameter, "first+last"),
        (WAN_I2V, {"extra": {"keyframes": [{"path": "img", "frame": 3}]}}, UnsupportedParameter, "ltx-video"),
        (LTX, {"extra": {"cfg": 3}}, UnsupportedParameter, "accepted: keyframes, steps, guidance_scale"),
        (LTX, {"extra": {"steps": 0}}, InvalidRequest, "options.steps"),
        (LTX, {"loop": True}, InvalidRequest, "first_frame"),
        (LTX, {"extra": {"keyframes": [{"path": "img", "frame": 500}]}}, InvalidRequest, "from 0 to 120"),
        (WAN_T2V, {"extend": True}, UnsupportedParameter, "extension"),
        (LTX, {"extend": True, "continue_direction": "backward"}, UnsupportedParameter, "no backward extension"),
        (LTX, {"negative_prompt": "blur"}, UnsupportedParameter, "options.guidance_scale above 1"),
        (LTX, {"loop": True, "first_frame": "img", "last_frame": "img"}, InvalidRequest, "drop last_frame"),
    ],
)
def test_refusals_name_the_parameter_and_the_way_out(tmp_path: Path, model, kwargs, error, needle) -> None:
    img = ref(tmp_path / "img.png")
    kwargs = json.loads(json.dumps(kwargs).replace('"img"', json.dumps(img.path)))
    if kwargs.pop("extend", False):
        kwargs["video"] = MediaRef(kind="file", path=str(tmp_path / "v.mp4"), mime="video/mp4")
    for key in ("first_frame", "last_frame"):
        if key in kwargs:
            kwargs[key] = img
    with pytest.raises(error) as err:
        build_plan(spec_for(model, **kwargs), MODELS[model], [tmp_path])
    assert needle in str(err.value)


def test_url_inputs_are_refused_with_the_fix(tmp_path: Path) -> None:
    url = MediaRef(kind="url", url="https://example.com/a.png", mime="image/png")
    with pytest.raises(InvalidRequest, match="download the URL first"):
        build_plan(spec_for(LTX, first_frame=url), MODELS[LTX], [tmp_path])


def test_keyframe_paths_outside_the_allowed_roots_are_refused(tmp_path: Path) -> None:
    outside = ref(tmp_path / "secret.png")
    extra = {"keyframes": [{"path": outside.path, "frame": 1}]}
    with pytest.raises(InputNotAllowed):
        build_plan(spec_for(LTX, extra=extra), MODELS[LTX], [tmp_path / "allowed"])


def test_options_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings is the one source: the REELFORGE_LOCAL_* variables reach the backend through it.
    monkeypatch.setenv("REELFORGE_LOCAL_CACHE", "0.1")
    monkeypatch.setenv("REELFORGE_LOCAL_COMPILE", "1")
    monkeypatch.setenv("REELFORGE_LOCAL_MODEL_PATHS", '{"x": "/m"}')
    opts = LocalOptions.from_settings(Settings())
    assert opts.cache_threshold(distilled=True) == 0.1 and opts.compile and opts.model_paths == {"x": "/m"}
    for name in ("REELFORGE_LOCAL_CACHE", "REELFORGE_LOCAL_COMPILE", "REELFORGE_LOCAL_MODEL_PATHS"):
        monkeypatch.delenv(name)
    auto = LocalOptions.from_settings(Settings())
    assert auto.cache_threshold(distilled=True) is None and auto.cache_threshold(distilled=False) == 0.05
    assert auto.tiling_for(1280, 720) and not auto.tiling_for(768, 512)
    with pytest.raises(InvalidRequest, match="REELFORGE_LOCAL_MODEL_PATHS"):
        LocalOptions.from_settings(Settings(local_model_paths="{not json"))
    with pytest.raises(InvalidRequest, match="REELFORGE_LOCAL_CACHE"):
        LocalOptions.from_settings(Settings(local_cache="fast"))
    with pytest.raises(InvalidRequest, match="REELFORGE_LOCAL_MAX_PIXELS"):
        LocalOptions.from_settings(Settings(local_max_pixels="-5"))


def test_weights_are_found_in_the_hub_cache_or_a_directory(tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "hub"
    snap = cache / "models--Wan-AI--Wan2.2-TI2V-5B-Diffusers" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap / "model_index.json").write_text("{}")
    (snap.parent.parent / "refs").mkdir()
    (snap.parent.parent / "refs" / "main").write_text("abc")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    assert cached_snapshot("Wan-AI/Wan2.2-TI2V-5B-Diffusers") == snap
    assert locate(MODELS[TI2V], LocalOptions()).path == snap
    assert not locate(MODELS[LTX], LocalOptions()).present
    mine = tmp_path / "my-ltx"
    mine.mkdir()
    (mine / "model_index.json").write_text("{}")
    found = locate(MODELS[LTX], LocalOptions(model_paths={LTX: str(mine)}))
    assert found.present and found.ref == str(mine)


def test_catalog_agrees_with_the_registry() -> None:
    entries = {m.id: m for m in load_catalog().providers["local"].models}
    assert set(entries) == set(MODELS)
    for model_id, spec in MODELS.items():
        assert entries[model_id].capabilities.fps == list(spec.fps_choices)
        assert entries[model_id].facts.hf_repo == spec.hf_repo
        assert ("video" in entries[model_id].capabilities.inputs) == ("extend" in spec.pipelines)


def test_provider_import_stays_light() -> None:
    code = (
        "import sys, reelforge.providers.local.provider, reelforge.providers.local.gpu; "
        "print(','.join(m for m in ('torch', 'diffusers', 'transformers', 'av', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_gpu_report_lists_packages_and_present_models(tmp_path: Path, monkeypatch) -> None:
    from reelforge.providers.local.gpu import gpu_report

    mine = tmp_path / "ltx"
    mine.mkdir()
    (mine / "model_index.json").write_text("{}")
    monkeypatch.setenv("REELFORGE_LOCAL_MODEL_PATHS", json.dumps({LTX: str(mine)}))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    report = gpu_report()
    assert report["models"][LTX] == {"present": True, "source": str(mine), "needs_vram_gib": 44.0,
                                     "fits": any(g["total_gib"] >= 30 for g in report["gpus"])}
    assert report["models"][WAN_T2V]["present"] is False
    assert set(report["packages"]) >= {"torch", "diffusers", "transformers"}
    assert json.dumps(report)  # doctor prints it as JSON
