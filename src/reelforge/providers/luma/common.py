"""What both Luma APIs share: camera moves as prompt text, and failure reasons as actionable errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reelforge.errors import (
    ContentRejected,
    InsufficientCredits,
    InvalidRequest,
    ProviderFailure,
    RateLimited,
    ReelforgeError,
    UnsupportedParameter,
)

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.generation_spec import GenerationSpec

#: Words in a failure reason that mean moderation refused the request.
MODERATION_WORDS = ("moderat", "safety", "blocked", "inappropriate", "policy", "nsfw")
#: How a camera move reads in a prompt, for models that take it as text.
CAMERA_PHRASES = {
    "push_in": "camera pushes in", "pull_out": "camera pulls out", "pan_left": "camera pans left",
    "pan_right": "camera pans right", "tilt_up": "camera tilts up", "tilt_down": "camera tilts down",
    "truck_left": "camera trucks left", "truck_right": "camera trucks right", "pedestal_up": "camera rises",
    "pedestal_down": "camera lowers", "zoom_in": "camera zooms in", "zoom_out": "camera zooms out",
    "orbit_left": "camera orbits left", "orbit_right": "camera orbits right", "crane_up": "crane shot rising",
    "crane_down": "crane shot descending", "dolly_zoom": "dolly zoom", "handheld": "handheld camera",
    "static": "static camera", "aerial": "aerial shot",
}  # fmt: skip


def with_camera_phrase(prompt: str, move: str) -> str:
    """The prompt with the camera move spelled out (for models without a camera field)."""
    phrase = CAMERA_PHRASES.get(move, move.replace("_", " "))
    return f"{prompt.rstrip().rstrip('.')}. {phrase.capitalize()}." if prompt else phrase.capitalize() + "."


def failure_error(reason: str, code: str = "") -> ReelforgeError:
    """A failed generation's reason (and Agents `failure_code`) as an actionable error."""
    said = reason[:300] or "no reason given"
    if code == "content_moderated" or any(word in reason.lower() for word in MODERATION_WORDS):
        return ContentRejected(f"Luma's moderation refused the generation: {said}.", hint="Rephrase the prompt or change the image.")
    if code == "rate_limited":
        return RateLimited(f"Luma refused the generation for rate limits: {said}.", retry_after=60.0)
    if code == "budget_exhausted":
        return InsufficientCredits(f"Luma says the account's budget is used up: {said}.", hint="Add credits at lumalabs.ai.")
    if code in ("image_too_large", "unsupported_format", "corrupt_input", "invalid_request"):
        return InvalidRequest(f"Luma could not use the input ({code}): {said}.", param="first_frame")
    return ProviderFailure(f"Luma's generation failed{f' ({code})' if code else ''}: {said}. Trying again may work.")


def check_frame_roles(spec: GenerationSpec, model: ModelEntry) -> None:
    """Keyframe rules both APIs share: an extended clip owns its frame slot; a loop cannot end on a set frame."""
    forward = spec.continue_direction == "forward"
    if spec.continue_remote_id and (spec.first_frame if forward else spec.last_frame):
        which = "first_frame" if forward else "last_frame"
        raise UnsupportedParameter(f"Extending uses the clip as {which}; do not also give an image for it.", param=which)
    if spec.loop and (spec.last_frame is not None or (spec.continue_remote_id and not forward)):
        raise UnsupportedParameter(f"{model.key} cannot loop a clip that must end on a given frame.", param="loop")
