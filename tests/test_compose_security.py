"""Media named inside an uploaded .otio file obey the same allowed-roots rule as any other input."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio

from tests.media_utils import make_clip


def _otio_with(clip: Path, dest: Path) -> Path:
    rate = 24
    tl = otio.schema.Timeline(name="t")
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    tl.tracks.append(track)
    ref = otio.schema.ExternalReference(
        target_url=clip.as_uri(),
        available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(24, rate)))
    track.append(otio.schema.Clip(name="c", media_reference=ref, source_range=otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(24, rate))))
    otio.adapters.write_to_file(tl, str(dest))
    return dest


async def test_otio_media_outside_allowed_roots_is_refused(client, tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    clip = make_clip(outside / "secret.mp4", 1.0, (160, 90), 24)
    edit = _otio_with(clip, tmp_path / "edit.otio")  # the .otio itself is inside the allowed root
    result = await client.call_tool("compose_timeline", {"request": {"timeline": {"otio_path": str(edit)}}})
    assert result.is_error and "input_not_allowed" in result.content[0].text
    jobs = await client.call_tool("list_jobs", {})
    assert jobs.structured_content["jobs"] == []


async def test_otio_media_inside_allowed_roots_renders(client, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "ok.mp4", 1.0, (160, 90), 24)
    edit = _otio_with(clip, tmp_path / "edit.otio")
    result = await client.call_tool("compose_timeline", {"request": {
        "timeline": {"otio_path": str(edit), "preset": "draft"}, "wait_seconds": 120}})
    assert not result.is_error, result.content[0].text
    assert result.structured_content["status"] == "succeeded", result.structured_content


async def test_title_font_path_outside_roots_is_refused(client, tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "ok.mp4", 1.0, (160, 90), 24)
    result = await client.call_tool("compose_timeline", {"request": {"timeline": {
        "clips": [{"path": str(clip)}], "titles": [{"text": "hi", "font": "/etc/passwd"}]}}})
    assert result.is_error and "titles[0].font" in result.content[0].text


async def test_side_files_named_in_otio_metadata_are_vetted(client, tmp_path: Path) -> None:
    """Subtitles, the audio bed and fonts can come from the .otio file's metadata: same rule."""
    outside = tmp_path.parent / f"{tmp_path.name}-outside-meta"
    outside.mkdir()
    secret = outside / "secret.srt"
    secret.write_text("1\n00:00:00,000 --> 00:00:01,000\nTOPSECRET\n")
    clip = make_clip(tmp_path / "ok.mp4", 1.0, (160, 90), 24)
    edit = _otio_with(clip, tmp_path / "edit.otio")
    timeline = otio.adapters.read_from_file(str(edit))
    timeline.metadata["reelforge"] = {"subtitles_path": str(secret)}
    otio.adapters.write_to_file(timeline, str(edit))
    result = await client.call_tool("compose_timeline", {"request": {"timeline": {"otio_path": str(edit)}}})
    assert result.is_error and "input_not_allowed" in result.content[0].text
    assert "subtitles_path" in result.content[0].text
