"""fal's error answers in reelforge's vocabulary (one place for the queue, storage and model errors).

Shapes [fal-client `_raise_for_status`; fal docs "Model Errors"]: `{"detail": "text"}` for platform
errors, `{"detail": [{"loc", "msg", "type", "url"?}]}` for model input errors (HTTP 422, FastAPI
style, `type` e.g. `content_policy_violation`), an `error_type` in the body or the `X-Fal-Error-Type`
header (`request_timeout`, `runner_disconnected`, ...). An exhausted balance answers 403
"User is locked. Reason: Exhausted balance." [3P reports].
"""

from __future__ import annotations

from typing import Any

import httpx

from reelforge.errors import (
    AuthFailed,
    ContentRejected,
    InsufficientCredits,
    InvalidRequest,
    ProviderFailure,
    RateLimited,
    ReelforgeError,
)
from reelforge.providers.http import error_for_status, parse_retry_after

PROVIDER = "fal"
MODERATION_TYPES = frozenset({"content_policy_violation"})
#: Input fields seen across fal's video apps -> the tool parameter a calling model knows.
WIRE_PARAMS = {
    "prompt": "prompt", "negative_prompt": "negative_prompt", "seed": "seed", "duration": "duration_s",
    "aspect_ratio": "aspect_ratio", "resolution": "resolution", "generate_audio": "audio",
    "image_url": "image", "start_image_url": "image", "first_frame_url": "image",
    "tail_image_url": "last_image", "end_image_url": "last_image", "last_frame_url": "last_image",
    "elements": "options", "image_urls": "options", "images": "options",
}  # fmt: skip


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {"detail": body}


def detail_items(detail: Any) -> list[dict[str, Any]]:
    """The typed error objects of a 422 answer (empty for a plain-text detail)."""
    return [item for item in detail if isinstance(item, dict)] if isinstance(detail, list) else []


def describe(detail: Any) -> str:
    """One line for a detail: the text itself, or each item as 'field: message'."""
    items = detail_items(detail)
    if not items:
        return str(detail or "no reason given")[:300]
    parts = []
    for item in items[:3]:
        loc = [str(p) for p in item.get("loc") or [] if p != "body"]
        parts.append(f"{'.'.join(loc) or 'input'}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)[:300]


def model_error(detail: Any, error_type: str | None = None) -> ReelforgeError:
    """A failed request's error (from the status `error`/`error_type` or the result's 422 body)."""
    items = detail_items(detail)
    types = {str(i.get("type")) for i in items} | ({error_type} if error_type else set())
    text = describe(detail)
    if types & MODERATION_TYPES:
        return ContentRejected(f"fal's content checker refused the request: {text}",
                               hint="Rephrase the prompt or use another image (fal does not bill refused requests).")
    if items:
        loc = [str(p) for p in items[0].get("loc") or [] if p != "body"]
        return InvalidRequest(f"fal's model rejected the input: {text}", param=WIRE_PARAMS.get(loc[0]) if loc else None)
    kind = f" ({error_type})" if error_type else ""
    return ProviderFailure(f"The fal request failed{kind}: {text}. Trying again may work.")


def fal_error(response: httpx.Response) -> ReelforgeError:
    """Map a non-2xx fal answer, refining the shared status classification from fal's body."""
    body = _body(response)
    detail = body.get("detail", response.text[:300])
    text = describe(detail)
    status = response.status_code
    lowered = text.lower()
    if status in (402, 403) and ("balance" in lowered or "locked" in lowered):
        return InsufficientCredits(f"fal says the account cannot pay for this: {text}",
                                   hint="Top up at fal.ai/dashboard/billing.")
    if status in (401, 403):
        return AuthFailed(f"fal refused the key (HTTP {status}).",
                          hint="Check FAL_KEY (a key from fal.ai/dashboard/keys, sent as 'Key ...').")
    if status == 429:
        return RateLimited(f"fal's rate or concurrency limit is reached (HTTP 429): {text}",
                           retry_after=parse_retry_after(response.headers))
    if status == 422:
        return model_error(detail, body.get("error_type"))
    if status == 404 and "/requests/" in response.request.url.path:
        return ProviderFailure(f"fal no longer knows this request: {text}",
                               hint="Check the request on fal.ai/dashboard/requests.")
    if status == 404:
        return InvalidRequest(f"fal does not know this model endpoint: {text}", param="model",
                              hint="The catalog's endpoint id may be outdated; try another model.")
    error_type = body.get("error_type") or response.headers.get("x-fal-error-type")
    kind = f" [{error_type}]" if error_type else ""
    return error_for_status(status, f"{text}{kind}", provider=PROVIDER, retry_after=parse_retry_after(response.headers))
