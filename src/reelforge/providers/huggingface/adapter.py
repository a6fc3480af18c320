"""Hugging Face Inference Providers adapter: text-to-video through the router's job routes.

Wire facts (huggingface_hub 2.4 `inference/_providers`, `providers.md` §9): one `Authorization:
Bearer hf_...` for every inference provider; the router forwards `{router}/{provider}/{path}` to
that provider's own API, so each route speaks its provider's body and status words:

* `fal-ai`: the queue. `POST /fal-ai/{endpoint}?_subdomain=queue` -> `request_id`; status, result
  and cancel at `/fal-ai/{app root}/requests/{id}[/status|/cancel]?_subdomain=queue` (fal drops the
  endpoint's sub-path there). Without `_subdomain=queue` the router calls the synchronous
  `fal.run`, which holds the connection until the video exists: never used here.
* `together`: `POST /together/v2/videos` -> `id`; `GET /together/v2/videos/{id}`; no cancel.
* `replicate`: `POST /replicate/v1/models/{owner}/{name}/predictions` (or `/v1/predictions` with a
  `version`), deliberately *without* the SDK's `Prefer: wait`, so the answer (with the id) comes at
  once instead of after up to 60 s of generation; `GET|POST /replicate/v1/predictions/{id}[/cancel]`.

Every create therefore answers with a job id that is stored at once; a lost answer is `unknown`
and never resent (the base's rule). Output links are the providers' CDNs: fetched without the HF
token, which must not leave for a third-party host.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from reelforge.catalog import RESOLUTION_SHORT_EDGE
from reelforge.errors import (
    AuthFailed,
    ContentRejected,
    InsufficientCredits,
    ProviderFailure,
    RateLimited,
    ReelforgeError,
    UnsupportedParameter,
)
from reelforge.generation_spec import size_for
from reelforge.providers.base import RemoteProvider, RemoteState, RemoteStatus
from reelforge.providers.declaration import facts_of
from reelforge.providers.http import ErrorMap, error_for_status, parse_retry_after, response_message
from reelforge.providers.huggingface import DECLARATION
from reelforge.providers.huggingface.facts import HuggingFaceFacts

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.generation_spec import GenerationSpec

QUEUE = {"_subdomain": "queue"}

#: Status words per route (each provider's own spelling); a word not listed reads as RUNNING.
STATES: dict[str, dict[str, RemoteState]] = {
    "fal-ai": {"IN_QUEUE": RemoteState.QUEUED, "IN_PROGRESS": RemoteState.RUNNING,
               "COMPLETED": RemoteState.SUCCEEDED},
    "together": {"queued": RemoteState.QUEUED, "in_progress": RemoteState.RUNNING,
                 "completed": RemoteState.SUCCEEDED, "failed": RemoteState.FAILED,
                 "cancelled": RemoteState.CANCELED},
    "replicate": {"starting": RemoteState.QUEUED, "processing": RemoteState.RUNNING,
                  "succeeded": RemoteState.SUCCEEDED, "failed": RemoteState.FAILED,
                  "canceled": RemoteState.CANCELED, "aborted": RemoteState.CANCELED},
}  # fmt: skip
#: fal error_type of a request cancelled on the queue.
FAL_CANCELLED = "request_cancelled"
_MODERATION_WORDS = ("content_policy", "nsfw", "safety", "moderation", "flagged")


class HuggingFaceProvider(RemoteProvider):
    declaration = DECLARATION

    # --- request shaping ----------------------------------------------------------------------

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        """Refuse inputs these text-to-video routes cannot carry, naming the parameter."""
        for param in ("first_frame", "last_frame", "video"):
            if getattr(spec, param) is not None:
                raise UnsupportedParameter(
                    f"{model.key} is text-to-video only through Hugging Face; drop '{param}' or use the fal or "
                    "replicate provider for image-to-video.", param=param,
                )  # fmt: skip
        if spec.continue_remote_id:
            raise UnsupportedParameter("Hugging Face routes have no native extend; extend uses the last frame.",
                                       param="continue_remote_id")
        if spec.audio:
            raise UnsupportedParameter(f"{model.key} makes silent video.", param="audio")
        if spec.extra:
            raise UnsupportedParameter(f"{model.key} takes no provider-specific options ({', '.join(spec.extra)}).",
                                       param=next(iter(spec.extra)))
        return spec, []

    def body(self, spec: GenerationSpec, model: ModelEntry) -> dict[str, Any]:
        """The provider's input object, from the model's field table (public for the contract tests)."""
        facts = facts_of(model, HuggingFaceFacts)
        fields: dict[str, Any] = {"prompt": spec.prompt}
        if facts.duration_field:
            fields[facts.duration_field] = _duration(spec, facts)
        if facts.aspect_field:
            fields[facts.aspect_field] = spec.aspect_ratio
        if facts.resolution_field:
            fields[facts.resolution_field] = spec.resolution
        if facts.size_fields:
            fields["width"], fields["height"] = size_for(spec.aspect_ratio, RESOLUTION_SHORT_EDGE[spec.resolution])
        if facts.fps_field:
            fields[facts.fps_field] = spec.fps
        if spec.seed is not None and facts.seed_field:
            fields[facts.seed_field] = spec.seed
        if spec.negative_prompt and facts.negative_prompt_field:
            fields[facts.negative_prompt_field] = spec.negative_prompt
        fields.update(facts.constants)
        if facts.route == "together":
            return {"model": facts.provider_model, **fields}
        if facts.route == "replicate":
            _, _, version = facts.provider_model.partition(":")
            return {"input": fields, **({"version": version} if version else {})}
        return fields

    # --- the protocol hooks ------------------------------------------------------------------

    async def _create_request(self, spec: GenerationSpec, model: ModelEntry) -> str:
        facts = facts_of(model, HuggingFaceFacts)
        body = self.body(spec, model)
        if facts.route == "fal-ai":
            url, id_field = self._url(f"/fal-ai/{facts.provider_model}", QUEUE), "request_id"
        elif facts.route == "together":
            url, id_field = self._url("/together/v2/videos"), "id"
        else:
            name, _, version = facts.provider_model.partition(":")
            path = "/v1/predictions" if version else f"/v1/models/{name}/predictions"
            url, id_field = self._url("/replicate" + path), "id"
        remote_id, _ = await self._send_create(url, body, self._headers(), id_field=id_field)
        return remote_id

    async def _read_job(self, remote_id: str, model: ModelEntry) -> dict[str, Any]:
        return await self._send_read("GET", self._job_url(remote_id, model), self._headers()) or {}

    def _status_word(self, job: dict[str, Any]) -> str:
        return str(job.get("status", ""))

    def _state_of(self, raw: str, model: ModelEntry) -> RemoteState | None:
        return STATES[facts_of(model, HuggingFaceFacts).route].get(raw)

    async def _parse_status(self, job: dict[str, Any], state: RemoteState, remote_id: str,
                            model: ModelEntry) -> RemoteStatus:
        route = facts_of(model, HuggingFaceFacts).route
        if route == "fal-ai":
            return await self._fal_status(job, state, remote_id, model)
        if route == "together":
            outputs = job.get("outputs") if isinstance(job.get("outputs"), dict) else {}
            cost = outputs.get("cost")
            error = job.get("error") if isinstance(job.get("error"), dict) else {}
            return RemoteStatus(
                state, output_urls=[outputs["video_url"]] if isinstance(outputs.get("video_url"), str) else [],
                error=job_failure(str(error.get("code") or ""), str(error.get("message") or ""))
                if state is RemoteState.FAILED else None,
                cost_usd=float(cost) if isinstance(cost, (int, float)) else None,
            )  # fmt: skip
        output = job.get("output")
        urls = [output] if isinstance(output, str) else [u for u in output or [] if isinstance(u, str)]
        return RemoteStatus(state, output_urls=urls,
                            error=job_failure("", str(job.get("error") or "")) if state is RemoteState.FAILED else None)

    async def _fal_status(self, job: dict[str, Any], state: RemoteState, remote_id: str,
                          model: ModelEntry) -> RemoteStatus:
        """fal ends every request COMPLETED; the failure (or the video) is read from it and its result."""
        if state is not RemoteState.SUCCEEDED:
            return RemoteStatus(state)
        if job.get("error") or job.get("error_type"):
            kind = str(job.get("error_type") or "")
            if kind == FAL_CANCELLED:
                return RemoteStatus(RemoteState.CANCELED, raw_status="CANCELLED")
            return RemoteStatus(RemoteState.FAILED, error=job_failure(kind, str(job.get("error") or "")))
        result = await self._send_read("GET", self._job_url(remote_id, model, result=True), self._headers()) or {}
        video = result.get("video") if isinstance(result.get("video"), dict) else {}
        url = video.get("url")
        return RemoteStatus(state, output_urls=[url] if isinstance(url, str) else [])

    async def _cancel_request(self, remote_id: str, model: ModelEntry) -> None:
        facts = facts_of(model, HuggingFaceFacts)
        if facts.route == "together":
            return await super()._cancel_request(remote_id, model)  # no cancel endpoint: it runs on
        if facts.route == "fal-ai":
            url = self._url(f"/fal-ai/{fal_root(facts.provider_model)}/requests/{remote_id}/cancel", QUEUE)
            await self._send_read("PUT", url, self._headers())
            return None
        await self._send_read("POST", self._url(f"/replicate/v1/predictions/{remote_id}/cancel"), self._headers())
        return None

    def _error_map(self) -> ErrorMap:
        return router_error

    # --- helpers ------------------------------------------------------------------------------

    def _job_url(self, remote_id: str, model: ModelEntry, *, result: bool = False) -> str:
        facts = facts_of(model, HuggingFaceFacts)
        if facts.route == "fal-ai":
            tail = "" if result else "/status"
            return self._url(f"/fal-ai/{fal_root(facts.provider_model)}/requests/{remote_id}{tail}", QUEUE)
        if facts.route == "together":
            return self._url(f"/together/v2/videos/{remote_id}")
        return self._url(f"/replicate/v1/predictions/{remote_id}")

    def _url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        url = self.base_url("HF_ROUTER_URL") + path
        return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential('HF_TOKEN')}"}


def fal_root(endpoint: str) -> str:
    """fal's queue URLs use only the app root (`owner/alias`, three parts under workflows/comfy)."""
    parts = endpoint.split("/")
    return "/".join(parts[: 3 if parts[0] in ("workflows", "comfy") else 2])


def _duration(spec: GenerationSpec, facts: HuggingFaceFacts) -> int | str:
    seconds = int(round(spec.duration_s))
    if facts.duration_form == "frames":
        return int(round(spec.duration_s * spec.fps)) + facts.frames_offset
    return str(seconds) if facts.duration_form == "str" else seconds


def job_failure(code: str, message: str) -> ReelforgeError:
    """A failed job in our vocabulary: moderation is the actionable case, the rest may work again."""
    said = (message or "no reason given")[:300]
    if any(word in f"{code} {message}".lower() for word in _MODERATION_WORDS):
        return ContentRejected(f"The inference provider's moderation refused the request ({code or 'no code'}): {said}",
                               hint="Rephrase the prompt.")
    return ProviderFailure(f"The inference provider's job failed ({code or 'no code'}): {said}. Trying again may work.")


def router_error(response: httpx.Response) -> ReelforgeError:
    """The router's own answers (`{"error": ...}`) and the providers' passed-through ones."""
    message = response_message(response)
    status = response.status_code
    if status == 401:
        return AuthFailed("Hugging Face refused the token (HTTP 401).",
                          hint="Check HF_TOKEN: a fine-grained token needs 'Make calls to Inference Providers'.")
    if status == 402:
        return InsufficientCredits(
            f"Hugging Face says the included Inference Providers credits are used up (HTTP 402): {message}",
            hint="Add a payment method or PRO at huggingface.co/settings/billing, or choose another provider.",
        )
    if status == 429:
        return RateLimited(f"Hugging Face or the inference provider is rate limiting (HTTP 429): {message}",
                           retry_after=parse_retry_after(response.headers))
    if status == 422 and any(word in message.lower() for word in _MODERATION_WORDS):
        return ContentRejected(f"The inference provider's moderation refused the request: {message}",
                               hint="Rephrase the prompt.")
    return error_for_status(status, message, provider="Hugging Face")
