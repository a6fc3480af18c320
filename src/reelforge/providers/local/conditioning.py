"""Conditioning media for the local pipelines: images and clip frames as PIL images at the render size.

Inputs are cover-fitted (scaled to fill, then centre-cropped) to the exact render size, because
the pipelines resize by stretching, which would distort an image whose aspect ratio differs.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import av
from PIL import Image, ImageOps

from reelforge.errors import InvalidRequest, MediaError


def fit(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale to cover width x height and centre-crop: no stretching, no borders."""
    return ImageOps.fit(image.convert("RGB"), (width, height), method=Image.Resampling.LANCZOS)


def load_image(path: Path, width: int, height: int) -> Image.Image:
    try:
        with Image.open(path) as img:
            return fit(img, width, height)
    except (OSError, ValueError) as exc:
        raise InvalidRequest(f"Cannot read image '{path.name}': {exc.__class__.__name__}.", param="first_frame") from exc


def first_video_frame(path: Path, width: int, height: int) -> Image.Image:
    """The first decodable frame of a clip."""
    for frame in _decode(path):
        return fit(frame, width, height)
    raise MediaError(f"'{path.name}' has no video frames.")


def tail_frames(path: Path, count: int, width: int, height: int) -> list[Image.Image]:
    """The last `count` frames of a clip (fewer when the clip is shorter), in order."""
    tail: deque[Image.Image] = deque(maxlen=count)
    for frame in _decode(path):
        tail.append(frame)
    if not tail:
        raise MediaError(f"'{path.name}' has no video frames to continue from.")
    return [fit(f, width, height) for f in tail]


def _decode(path: Path):  # noqa: ANN202 - a generator of PIL images
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvalidRequest(f"'{path.name}' has no video stream.", param="video")
            for frame in container.decode(video=0):
                yield frame.to_image()
    except av.error.FFmpegError as exc:
        raise InvalidRequest(f"Cannot decode '{path.name}' ({exc.__class__.__name__}).", param="video") from exc
