"""How each model is called on fal's queue: one data row per model family, never a class per model.

fal hosts many vendors' models behind one queue protocol; what differs is each app's input schema
(field names, duration as "5" vs 5 vs "8s", allowed values, which endpoint takes which input).
Those differences are the facts below; the adapter reads them and has no per-model branches.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import model_validator

from reelforge.providers.declaration import Facts

#: Which endpoint serves a request: text only, a first frame, first and last frames, or references.
EndpointKind = Literal["text", "image", "first_last", "reference"]
#: Our parameters a model row may map to its own input fields.
Param = Literal[
    "prompt", "first_frame", "last_frame", "duration", "aspect_ratio", "resolution", "audio",
    "negative_prompt", "seed",
]
#: fal's namespaced apps put a prefix before owner/alias (fal_client `APP_NAMESPACES`).
APP_NAMESPACES = ("workflows", "comfy")


def app_root(endpoint_id: str) -> str:
    """The `[namespace/]owner/alias` part of an endpoint id: where its status/result/cancel URLs live.

    fal_client builds `{queue}/{owner}/{alias}/requests/{id}` and drops the endpoint's sub-path
    (`fal-ai/kling-video/v2.1/pro/image-to-video` -> `fal-ai/kling-video`).
    """
    parts = endpoint_id.strip("/").split("/")
    width = 3 if parts[0] in APP_NAMESPACES else 2
    if len(parts) < width:
        raise ValueError(f"fal endpoint id {endpoint_id!r} needs at least owner/alias")
    return "/".join(parts[:width])


class References(Facts):
    """Reference images (Kling elements, Pika scenes ingredients, Seedance/Kling O3 image_urls).

    Given through `options.references` (a list of paths or https URLs); each becomes a URL in
    `field`, as plain strings or, with `item_key`, as objects `{item_key: url}`.
    """

    field: str
    max: int
    item_key: str | None = None
    #: The endpoint that takes them (Kling v3 takes elements on image-to-video only).
    kind: EndpointKind = "reference"


class FalFacts(Facts):
    #: Endpoint id per input kind; a kind not listed is refused before anything is sent.
    endpoints: dict[EndpointKind, str]
    #: Our parameter -> the app's input field; a parameter not listed is never sent.
    fields: dict[Param, str] = {}
    #: Per endpoint kind, fields that differ from `fields` (None: that endpoint has no such input).
    kind_fields: dict[EndpointKind, dict[Param, str | None]] = {}
    #: How `duration` goes on the wire: "5" (string), 5 (number) or "8s" (seconds_suffix).
    duration_format: Literal["string", "number", "seconds_suffix"] = "string"
    #: Our value -> the app's spelling, per parameter ({"resolution": {"768p": "768P"}}).
    wire_values: dict[Param, dict[str, str]] = {}
    #: Per endpoint kind, the values it takes when narrower than the catalog row (refused up front).
    limits: dict[EndpointKind, dict[Literal["aspect_ratio", "resolution", "duration"], list[str]]] = {}
    #: Inputs always sent as given.
    fixed: dict[str, Any] = {}
    #: Extra inputs a caller may pass through `options` (besides `references`).
    options: list[str] = []
    references: References | None = None
    #: Where the result JSON keeps the video File object (`video.url`).
    output_field: str = "video"
    #: False while the input schema comes from third-party notes rather than fal's own page.
    schema_verified: bool = True

    @model_validator(mode="after")
    def _one_app(self) -> FalFacts:
        roots = {app_root(e) for e in self.endpoints.values()}
        if len(roots) != 1:
            # The request id alone must locate the job: every endpoint of a row shares one app root.
            raise ValueError(f"all endpoints of a row must share one owner/alias, got {sorted(roots)}")
        if self.references is not None and self.references.kind not in self.endpoints:
            raise ValueError(f"references go to the '{self.references.kind}' endpoint, which is not listed")
        return self

    @property
    def root(self) -> str:
        return app_root(next(iter(self.endpoints.values())))

    def field(self, kind: EndpointKind, param: Param) -> str | None:
        """The app's input name for `param` on the `kind` endpoint, or None when it has none."""
        overrides = self.kind_fields.get(kind, {})
        if param in overrides:
            return overrides[param]
        return self.fields.get(param)

    #: fal rows take reference images as `options.references` (each row maps them to its app's field).
    reference_option: ClassVar[str] = "references"

    def reference_limit(self) -> int:
        return self.references.max if self.references is not None else 0
