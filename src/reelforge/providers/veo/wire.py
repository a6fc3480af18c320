"""The Gemini API's Veo wire format: request bodies, operation objects, Google error envelopes.

Field names follow google-genai 2.19.0's Gemini Developer API converters (`_GenerateVideosSource_to_mldev`,
`_GenerateVideosConfig_to_mldev`, `_Image_to_mldev`, `_VideoGenerationReferenceImage_to_mldev`,
`_Video_to_mldev`, `_GenerateVideosOperation_from_mldev`): inputs go in `instances[0]`
(`prompt`, `image`, `lastFrame`, `referenceImages`, `video`), options in `parameters`
(`durationSeconds`, `aspectRatio`, `resolution`, `personGeneration`, `negativePrompt`). Images are
`{"bytesBase64Encoded", "mimeType"}`; the SDK refuses `seed`, `generateAudio`, `fps` and GCS URIs on
the Gemini API, so none is ever sent. (google-genai 3.x stopped offering `generate_videos` on the
Gemini API in the SDK; the HTTP contract is unchanged as far as anything published shows.)
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from reelforge.errors import (
    AuthFailed,
    ContentRejected,
    InvalidRequest,
    ProviderFailure,
    RateLimited,
    ReelforgeError,
)
from reelforge.providers.http import error_for_status, parse_retry_after, response_message

API_VERSION = "v1beta"
#: The SDK's own rule for a file name inside a download URI (`_transformers.t_file_name`).
_FILE_NAME = re.compile(r"files/([a-z0-9]+)")
#: Google's camelCase field -> the tool parameter a calling model knows.
_PARAMS = {
    "durationSeconds": "duration_s", "aspectRatio": "aspect_ratio", "resolution": "resolution",
    "negativePrompt": "negative_prompt", "lastFrame": "last_image", "image": "image", "prompt": "prompt",
    "referenceImages": "options.reference_images", "personGeneration": "options.person_generation",
    "video": "source",
}  # fmt: skip


def operation_word(operation: dict[str, Any]) -> str:
    """Operations have no status word: `done` (absent until true) plus `error` or `response`."""
    if operation.get("done") is not True:
        return "running"
    return "error" if operation.get("error") else "done"


def samples(operation: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The generated videos' URIs and the whole `generateVideoResponse` of a finished operation."""
    response = operation.get("response") if isinstance(operation.get("response"), dict) else {}
    generated = response.get("generateVideoResponse") if isinstance(response.get("generateVideoResponse"), dict) else {}
    uris = []
    for sample in generated.get("generatedSamples") or []:
        video = sample.get("video") if isinstance(sample, dict) else None
        if isinstance(video, dict) and isinstance(video.get("uri"), str):
            uris.append(video["uri"])
    return uris, generated


def file_name(uri: str) -> str | None:
    """The file's id in a Gemini download URI, the way the SDK reads it (None when it has none)."""
    found = _FILE_NAME.search(uri)
    return found.group(1) if found else None


def filtered_error(generated: dict[str, Any]) -> ContentRejected:
    """A finished operation whose every sample was removed by Google's safety filters."""
    reasons = "; ".join(str(r) for r in generated.get("raiMediaFilteredReasons") or [])[:300]
    return ContentRejected(
        f"Google's safety filters removed the generated video ({reasons or 'no reason given'}). "
        "Google may still bill for it.",
        hint="Rephrase the prompt or use different images.",
    )


def operation_error(error: dict[str, Any]) -> ReelforgeError:
    """A failed operation's `error` ({code, message}, google.rpc.Status codes) as an actionable error."""
    code = error.get("code")
    message = str(error.get("message") or "no reason given")[:300]
    lowered = message.lower()
    if any(word in lowered for word in ("safety", "responsible ai", "policy", "filtered", "sensitive")):
        return ContentRejected(f"Google refused the request on content grounds: {message}",
                               hint="Rephrase the prompt or use different images.")
    if code == 3:  # INVALID_ARGUMENT
        return InvalidRequest(f"Google Veo rejected the request: {message}")
    if code == 8:  # RESOURCE_EXHAUSTED
        return RateLimited(f"Google Veo ran out of quota for this job: {message}")
    return ProviderFailure(f"Google Veo's job failed (code {code}): {message}. Trying again may work.")


def retry_delay(body: object) -> float | None:
    """Seconds from a google.rpc.RetryInfo detail (`"retryDelay": "34s"`), if the error carries one."""
    details = body.get("error", {}).get("details") if isinstance(body, dict) and isinstance(body.get("error"), dict) else None
    for detail in details or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            found = re.fullmatch(r"(\d+(?:\.\d+)?)s", str(detail.get("retryDelay", "")))
            if found:
                return float(found.group(1))
    return None


def _reasons(body: object) -> set[str]:
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    return {str(d.get("reason")) for d in details or [] if isinstance(d, dict) and d.get("reason")}


def veo_error(response: httpx.Response) -> ReelforgeError:
    """Google's `{"error": {code, message, status, details}}` answers, refined from the shared classes."""
    message = response_message(response)
    status = response.status_code
    try:
        body: object = response.json()
    except ValueError:
        body = None
    if status in (401, 403) or "API_KEY_INVALID" in _reasons(body) or "api key not valid" in message.lower():
        # Google answers a wrong key with 400 INVALID_ARGUMENT / API_KEY_INVALID, not 401.
        return AuthFailed(f"Google refused the Gemini API key (HTTP {status}).",
                          hint="Check GEMINI_API_KEY (or GOOGLE_API_KEY) in Google AI Studio.")
    if status == 429:
        asked = [s for s in (parse_retry_after(response.headers), retry_delay(body)) if s is not None]
        daily = "perday" in str(body).lower()
        return RateLimited(
            f"Google's {'daily quota' if daily else 'per-minute rate limit'} for this Veo model is used up "
            f"(HTTP 429 RESOURCE_EXHAUSTED): {message}",
            retry_after=max(asked) if asked else None,
        )
    named = re.search(r"\b(" + "|".join(_PARAMS) + r")\b", message)
    return error_for_status(status, message, provider="Google Veo", param=_PARAMS[named.group(1)] if named else None)
