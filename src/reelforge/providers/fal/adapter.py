"""fal queue adapter: one protocol for every video app fal hosts; each model's schema is data.

Wire facts [fal-client 1.0 `client.py`; providers.md §5]: `Authorization: Key $FAL_KEY` on every
call; `POST {queue}/{endpoint_id}` with the model's input JSON (no envelope) answers
`{request_id, status_url, response_url, cancel_url, ...}`; status, result and cancel live under the
endpoint's app root only (`{queue}/{owner}/{alias}/requests/{id}[/status|/cancel]`, the sub-path
dropped), so the request id alone locates a job. Status reads go IN_QUEUE (with `queue_position`)
-> IN_PROGRESS (logs) -> COMPLETED; a failed request is COMPLETED with `error`/`error_type`, or its
result read answers the model's 422. Cancel is `PUT .../cancel` (202 CANCELLATION_REQUESTED, 400
ALREADY_COMPLETED). Local inputs go through fal storage, the flow fal_client falls back to:
`POST {rest}/storage/upload/initiate?storage_type=gcs` `{file_name, content_type}` ->
`{upload_url, file_url}`, then `PUT upload_url` with the bytes and no key (a signed URL).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio

from reelforge.errors import ContentRejected, InvalidRequest, ProviderFailure
from reelforge.providers.base import RemoteProvider, RemoteState, RemoteStatus
from reelforge.providers.declaration import facts_of
from reelforge.providers.fal import DECLARATION
from reelforge.providers.fal.errors import fal_error, model_error
from reelforge.providers.fal.facts import FalFacts
from reelforge.providers.fal.inputs import build_input, check
from reelforge.providers.http import ErrorMap, send

if TYPE_CHECKING:
    from reelforge.catalog import ModelEntry
    from reelforge.generation_spec import GenerationSpec, MediaRef

log = logging.getLogger(__name__)

STATES = {"IN_QUEUE": RemoteState.QUEUED, "IN_PROGRESS": RemoteState.RUNNING, "COMPLETED": RemoteState.SUCCEEDED}
#: fal_client uploads up to 100 MB in one piece (`MULTIPART_THRESHOLD`); larger needs multipart.
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
#: error_type of a request cancelled before it finished [UNVERIFIED: emulator default].
CANCELLED_TYPES = frozenset({"request_cancelled", "cancelled"})


class FalProvider(RemoteProvider):
    declaration = DECLARATION
    states = STATES

    def normalize(self, spec: GenerationSpec, model: ModelEntry) -> tuple[GenerationSpec, list[str]]:
        """Refuse what the chosen endpoint cannot take; the catalog checked the rest."""
        return spec, check(spec, model, self.settings)

    # --- the protocol hooks ------------------------------------------------------------------

    async def _create_request(self, spec: GenerationSpec, model: ModelEntry) -> str:
        """Upload local inputs, then send the one submit; return fal's request id."""
        endpoint, body = await build_input(spec, model, self.settings, self._upload)
        request_id, answer = await self._send_create(f"{self.queue_url}/{endpoint}", body, self._headers(),
                                                     id_field="request_id")
        log.info("fal request %s queued on %s (position %s)", request_id, endpoint, answer.get("queue_position"))
        return request_id

    async def _read_job(self, remote_id: str, model: ModelEntry) -> dict[str, Any]:
        """The status, and for a completed request its result (or the model's refusal of it)."""
        base = self._request_url(remote_id, model)
        job = await self._send_read("GET", f"{base}/status", self._headers(), params={"logs": 1}) or {}
        if job.get("status") != "COMPLETED" or job.get("error") or job.get("error_type"):
            return job
        try:
            job["result"] = await self._send_read("GET", base, self._headers()) or {}
        except (ContentRejected, InvalidRequest) as exc:  # a 422: the model refused; the request is over
            job["result_error"] = exc
        return job

    def _status_word(self, job: dict[str, Any]) -> str:
        return str(job.get("status") or "")

    async def _parse_status(self, job: dict[str, Any], state: RemoteState, remote_id: str,
                            model: ModelEntry) -> RemoteStatus:
        if state is not RemoteState.SUCCEEDED:
            return RemoteStatus(state)  # fal reports no percentage; progress is never invented
        error_type = job.get("error_type")
        if error_type in CANCELLED_TYPES:
            return RemoteStatus(RemoteState.CANCELED)
        if job.get("error") or error_type:
            return RemoteStatus(RemoteState.FAILED, error=model_error(job.get("error"), error_type))
        if "result_error" in job:
            return RemoteStatus(RemoteState.FAILED, error=job["result_error"])
        url = _output_url(job.get("result"), facts_of(model, FalFacts).output_field)
        if url is None:
            return RemoteStatus(RemoteState.FAILED,
                                error=ProviderFailure("fal reported the request complete but its result has no video URL."))
        return RemoteStatus(state, progress=1.0, output_urls=[url])

    async def _cancel_request(self, remote_id: str, model: ModelEntry) -> None:
        """PUT the cancel; a request already finished answers 400, one unknown 404: both are fine."""
        url = f"{self._request_url(remote_id, model)}/cancel"
        response = await send(self.client, "PUT", url, headers=self._headers(), retry_reads=True,
                              error_map=_cancel_errors, provider=self.title, policy=self.retry)
        log.info("fal cancel of %s: %s", remote_id, response.text[:80])

    def _error_map(self) -> ErrorMap:
        return fal_error

    # --- storage upload ----------------------------------------------------------------------

    async def _upload(self, ref: MediaRef, param: str) -> str:
        """A URL fal can fetch: a public URL as given, a local file through fal storage."""
        from reelforge.providers.input_files import check_kind, input_path

        if ref.kind == "url":
            assert ref.url is not None
            return ref.url
        mime = check_kind(ref, expected="image", param=param)
        path = input_path(ref, param=param)
        size = path.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise InvalidRequest(f"'{param}' is {size / 1e6:.0f} MB; fal uploads take at most 100 MB here.", param=param)
        slot = await self._send_read(
            "POST", f"{self.rest_url}/storage/upload/initiate", self._headers(), params={"storage_type": "gcs"},
            json={"file_name": path.name, "content_type": mime},
        )  # fmt: skip
        if not slot or not isinstance(slot.get("upload_url"), str) or not isinstance(slot.get("file_url"), str):
            raise ProviderFailure("fal's storage answered without an upload URL.")
        # The signed URL is the credential: the key is not sent to the storage host.
        data = await anyio.Path(path).read_bytes()
        await send(self.client, "PUT", slot["upload_url"], content=data, headers={"Content-Type": mime},
                   retry_reads=True, error_map=fal_error, provider=self.title, policy=self.retry)
        log.info("uploaded %s (%d bytes) to fal storage for %s", path.name, size, param)
        return str(slot["file_url"])

    # --- helpers ------------------------------------------------------------------------------

    @property
    def queue_url(self) -> str:
        return _as_url(self.base_url("FAL_QUEUE_RUN_HOST"))

    @property
    def rest_url(self) -> str:
        return _as_url(self.base_url("FAL_REST_URL"))

    def _request_url(self, remote_id: str, model: ModelEntry) -> str:
        return f"{self.queue_url}/{facts_of(model, FalFacts).root}/requests/{remote_id}"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Key {self.credential('FAL_KEY')}"}


def _as_url(value: str) -> str:
    """fal_client's FAL_QUEUE_RUN_HOST is a bare host; a full URL (tests, proxies) is taken as is."""
    return value if "://" in value else f"https://{value}"


def _output_url(result: Any, path: str) -> str | None:
    """The video URL at `path` in a result (`video` -> `{"url": ...}`; a list takes its first item)."""
    node = result
    for key in path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    if isinstance(node, list):
        node = node[0] if node else None
    url = node.get("url") if isinstance(node, dict) else node
    return url if isinstance(url, str) and url.startswith(("http://", "https://")) else None


def _cancel_errors(response: Any) -> Any:
    """Cancel answers: 400 (already completed) and 404 are reported as InvalidRequest (logged, not raised)."""
    if response.status_code in (400, 404):
        return InvalidRequest(f"fal did not cancel: {response.text[:120]}")
    return fal_error(response)
