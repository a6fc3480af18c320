"""The emulated fal apps' input schemas: the contract the fal emulator validates create bodies with.

Copied from fal's model pages (llms.txt / API docs) where seen, else from third-party notes
(marked). Kept apart from the adapter's catalog on purpose: the catalog is what reelforge believes,
this is what the "provider" accepts, and the contract tests compare the two.

A field spec is one of: "text", "url", "bool", "int", "float", ("enum", [values]),
("urls", max) for a list of URLs, ("objs", key, max) for a list of `{key: url}` objects.
"""

from __future__ import annotations

from typing import Any

_KLING_DUR = ("enum", ["5", "10"])
_KLING_V3_DUR = ("enum", [str(n) for n in range(3, 16)])
_KLING_AR = ("enum", ["16:9", "9:16", "1:1"])
_PIKA_AR = ("enum", ["16:9", "9:16", "1:1", "4:5", "5:4", "3:2", "2:3"])
_PIKA = {"duration": ("enum", [5, 10]), "resolution": ("enum", ["720p", "1080p"]), "negative_prompt": "text", "seed": "int"}
_WAN = {"duration": ("enum", ["5", "10", "15"]), "resolution": ("enum", ["720p", "1080p"]), "negative_prompt": "text",
        "seed": "int", "enable_prompt_expansion": "bool"}
_LTX = {"duration": ("enum", [6, 8, 10, 12, 14, 16, 18, 20]), "resolution": ("enum", ["1080p", "1440p", "2160p"]),
        "aspect_ratio": ("enum", ["16:9"]), "fps": ("enum", [24, 25, 48, 50]), "generate_audio": "bool"}
_SEEDANCE = {"duration": ("enum", ["auto"] + [str(n) for n in range(4, 16)]), "resolution": ("enum", ["480p", "720p"]),
             "generate_audio": "bool", "seed": "int"}
_SEEDANCE_AR = ("enum", ["auto", "21:9", "16:9", "4:3", "1:1", "3:4", "9:16"])
_VEO = {"duration": ("enum", ["4s", "6s", "8s"]), "negative_prompt": "text", "resolution": ("enum", ["720p", "1080p", "4k"]),
        "generate_audio": "bool", "seed": "int", "auto_fix": "bool"}

#: endpoint id -> {"required": [...], "fields": {name: spec}}
APPS: dict[str, dict[str, Any]] = {
    "fal-ai/kling-video/v3/pro/text-to-video": {"required": ["prompt"], "fields": {
        "prompt": "text", "duration": _KLING_V3_DUR, "aspect_ratio": _KLING_AR, "generate_audio": "bool",
        "negative_prompt": "text", "cfg_scale": "float", "shot_type": ("enum", ["customize", "intelligent"])}},
    "fal-ai/kling-video/v3/pro/image-to-video": {"required": ["start_image_url"], "fields": {
        "prompt": "text", "start_image_url": "url", "end_image_url": "url", "duration": _KLING_V3_DUR,
        "generate_audio": "bool", "negative_prompt": "text", "cfg_scale": "float",
        "shot_type": ("enum", ["customize", "intelligent"]), "elements": ("objs", "frontal_image_url", 4)}},
    "fal-ai/kling-video/v2.5-turbo/pro/text-to-video": {"required": ["prompt"], "fields": {
        "prompt": "text", "duration": _KLING_DUR, "aspect_ratio": _KLING_AR, "negative_prompt": "text",
        "cfg_scale": "float"}},
    "fal-ai/kling-video/v2.5-turbo/pro/image-to-video": {"required": ["prompt", "image_url"], "fields": {
        "prompt": "text", "image_url": "url", "duration": _KLING_DUR, "negative_prompt": "text", "cfg_scale": "float"}},
    "fal-ai/kling-video/v2.1/pro/image-to-video": {"required": ["prompt", "image_url"], "fields": {
        "prompt": "text", "image_url": "url", "tail_image_url": "url", "duration": _KLING_DUR, "negative_prompt": "text",
        "cfg_scale": "float"}},
    # Pika 2.2 [3P: api-evangelist OpenAPI of the fal apps; pikascenes images shape from fal's API page]
    "fal-ai/pika/v2.2/text-to-video": {"required": ["prompt"], "fields": {
        "prompt": "text", "aspect_ratio": _PIKA_AR, **_PIKA}},
    "fal-ai/pika/v2.2/image-to-video": {"required": ["prompt", "image_url"], "fields": {
        "prompt": "text", "image_url": "url", **_PIKA}},
    "fal-ai/pika/v2.2/pikascenes": {"required": ["prompt", "images"], "fields": {
        "prompt": "text", "images": ("objs", "image_url", 6), "aspect_ratio": _PIKA_AR,
        "ingredients_mode": ("enum", ["precise", "creative"]), **_PIKA}},
    # Wan 2.6 [fal API page: 720p/1080p, 5/10/15 s, five ratios; duration spelling UNVERIFIED]
    "wan/v2.6/text-to-video": {"required": ["prompt"], "fields": {
        "prompt": "text", "aspect_ratio": ("enum", ["16:9", "9:16", "1:1", "4:3", "3:4"]), **_WAN}},
    "wan/v2.6/image-to-video": {"required": ["prompt", "image_url"], "fields": {
        "prompt": "text", "image_url": "url", **_WAN}},
    # LTX-2 Fast [fal learn guide; 3P skill for the integer duration/fps and the t2v fast path]
    "fal-ai/ltx-2/text-to-video/fast": {"required": ["prompt"], "fields": {"prompt": "text", **_LTX}},
    "fal-ai/ltx-2/image-to-video/fast": {"required": ["prompt", "image_url"], "fields": {
        "prompt": "text", "image_url": "url", "end_image_url": "url", **_LTX}},
    # Seedance 2.0 [fal llms.txt of the fast t2v twin; 3P API reference]
    "bytedance/seedance-2.0/text-to-video": {"required": ["prompt"], "fields": {
        "prompt": "text", "aspect_ratio": _SEEDANCE_AR, **_SEEDANCE}},
    "bytedance/seedance-2.0/image-to-video": {"required": ["prompt", "image_url"], "fields": {
        "prompt": "text", "image_url": "url", "end_image_url": "url", **_SEEDANCE}},
    "bytedance/seedance-2.0/reference-to-video": {"required": ["prompt", "image_urls"], "fields": {
        "prompt": "text", "image_urls": ("urls", 9), "aspect_ratio": _SEEDANCE_AR, **_SEEDANCE}},
    # Hailuo-02 Standard [fal llms.txt]
    "fal-ai/minimax/hailuo-02/standard/text-to-video": {"required": ["prompt"], "fields": {
        "prompt": "text", "duration": ("enum", ["6", "10"]), "prompt_optimizer": "bool"}},
    "fal-ai/minimax/hailuo-02/standard/image-to-video": {"required": ["prompt", "image_url"], "fields": {
        "prompt": "text", "image_url": "url", "duration": ("enum", ["6", "10"]), "prompt_optimizer": "bool",
        "resolution": ("enum", ["512P", "768P"])}},
    # Veo 3.1 Fast [fal llms.txt of first-last-frame-to-video; 3P skill for t2v/i2v]
    "fal-ai/veo3.1/fast": {"required": ["prompt"], "fields": {
        "prompt": "text", "aspect_ratio": ("enum", ["16:9", "9:16"]), **_VEO}},
    "fal-ai/veo3.1/fast/image-to-video": {"required": ["prompt", "image_url"], "fields": {
        "prompt": "text", "image_url": "url", "aspect_ratio": ("enum", ["auto", "16:9", "9:16"]), **_VEO}},
    "fal-ai/veo3.1/fast/first-last-frame-to-video": {"required": ["prompt", "first_frame_url", "last_frame_url"], "fields": {
        "prompt": "text", "first_frame_url": "url", "last_frame_url": "url",
        "aspect_ratio": ("enum", ["auto", "16:9", "9:16"]), **_VEO}},
}


def check_field(spec: Any, value: Any, url_ok: Any) -> str | None:
    """Why `value` does not fit `spec` (a FastAPI-style message), or None when it fits."""
    if spec == "text":
        return None if isinstance(value, str) and value else "Input should be a valid string"
    if spec == "url":
        return None if isinstance(value, str) and url_ok(value) else "Input should be a fetchable URL"
    if spec == "bool":
        return None if isinstance(value, bool) else "Input should be a valid boolean"
    if spec == "int":
        return None if isinstance(value, int) and not isinstance(value, bool) else "Input should be a valid integer"
    if spec == "float":
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "Input should be a valid number"
    kind = spec[0]
    if kind == "enum":
        # Strict like pydantic enums: "5" is not 5.
        ok = any(value == v and type(value) is type(v) for v in spec[1])
        return None if ok else "Input should be " + ", ".join(repr(v) for v in spec[1])
    if kind == "urls":
        ok = isinstance(value, list) and 0 < len(value) <= spec[1] and all(isinstance(v, str) and url_ok(v) for v in value)
        return None if ok else f"Input should be a list of 1 to {spec[1]} URLs"
    ok = (isinstance(value, list) and 0 < len(value) <= spec[2]
          and all(isinstance(v, dict) and isinstance(v.get(spec[1]), str) and url_ok(v[spec[1]]) for v in value))
    return None if ok else f"Input should be a list of 1 to {spec[2]} objects with '{spec[1]}'"
