"""The shared HTTP layer every remote adapter uses: one pooled client, one retry policy, one error map.

Money rules live here, so each adapter cannot get them wrong on its own:

* Reads (GET/HEAD/DELETE of a job) are retried on 408/429/5xx and transport errors, with capped
  exponential backoff, full jitter, and the server's `Retry-After` / `retry-after-ms` honoured.
* A create request is sent exactly once. If the connection fails after the request may have
  reached the provider, or the provider answers with a gateway error, we cannot tell whether a
  job was started (and billed): that is `OutcomeUnknown`, never a silent retry.
* HTTP statuses become `reelforge.errors` classes in one function (`error_for_status`); adapters
  pass an `error_map` that can refine it from the provider's own body first.
* Outputs are streamed to a temp file beside the destination, checked (size, type, magic
  bytes) and moved into place with `os.replace`, so a half-written video never has the final name.

Signed URLs carry credentials in their query string: messages and logs only ever show
`safe_url(url)` (scheme, host and path). A provider's own error text is redacted (`reelforge.redact`)
before it becomes part of any message, since providers echo keys and links back.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx

from reelforge import __version__
from reelforge.redact import redact
from reelforge.errors import (
    AuthFailed,
    InsufficientCredits,
    InvalidRequest,
    OutcomeUnknown,
    ProviderFailure,
    ProviderTimeout,
    RateLimited,
    ReelforgeError,
)

log = logging.getLogger(__name__)

USER_AGENT = f"reelforge/{__version__} (+https://github.com/reelforge/reelforge)"
#: Connect fast, allow slow first bytes (some create endpoints take a while), cap the pool.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=32, max_keepalive_connections=8, keepalive_expiry=30.0)

#: Statuses worth another read: request timeout, rate limit, transient server errors.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
#: Answers to a create request after which a job may exist anyway (a gateway lost the reply).
UNKNOWN_CREATE_STATUSES = frozenset({500, 502, 504})
#: Output URL statuses that mean "this signed link is no longer valid".
EXPIRED_URL_STATUSES = frozenset({401, 403, 404, 410})

ErrorMap = Callable[[httpx.Response], ReelforgeError]
DO_NOT_RESUBMIT = "Do not submit again: check the provider's dashboard or task list first."


class OutputUrlExpired(ProviderFailure):
    """A finished job's output link no longer works; reading the job again gives a fresh one."""

    code = "output_expired"


@dataclass(frozen=True)
class RetryPolicy:
    """How reads are retried. Tests pass a fast one; production uses the defaults."""

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 20.0
    #: A server asking us to wait longer than this gets a `RateLimited` error instead of a wait.
    max_retry_after_s: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff for the given 1-based attempt."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)


DEFAULT_RETRY = RetryPolicy()

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()


def new_client(**overrides: Any) -> httpx.AsyncClient:
    """A client with reelforge's timeouts, pool limits and user agent (the caller closes it)."""
    options: dict[str, Any] = {
        "timeout": DEFAULT_TIMEOUT,
        "limits": DEFAULT_LIMITS,
        "headers": {"User-Agent": USER_AGENT},
        "follow_redirects": False,
    }
    options.update(overrides)
    return httpx.AsyncClient(**options)


def shared_client() -> httpx.AsyncClient:
    """The one pooled client for the running event loop (created on first use).

    httpx connections belong to the loop that opened them, so the pool is kept per loop; outside
    a running loop a fresh client is returned and the caller owns it.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return new_client()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = new_client()
        _clients[loop] = client
    return client


async def close_shared_client() -> None:
    """Close the running loop's pooled client (for the server's shutdown; the next use opens a new one)."""
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()


def safe_url(url: str | httpx.URL) -> str:
    """The URL without query or fragment (signed links keep their secrets there)."""
    parsed = httpx.URL(str(url))
    return f"{parsed.scheme}://{parsed.host}{':' + str(parsed.port) if parsed.port else ''}{parsed.path}"


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def response_message(response: httpx.Response, limit: int = 300) -> str:
    """The provider's own error text from common JSON shapes, else a short body excerpt.

    Redacted before it is cut: a key or signed URL cut in half would no longer be recognised.
    """
    # Only a bounded head is redacted: a hostile megabyte body must not stall the event loop in the
    # redactor's patterns, and 8x the limit still holds any key or URL that reaches the kept part.
    head = 8 * limit
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return redact(text[:head])[:limit] if text and not text.startswith("<") else ""
    return redact(_message_from_json(body)[:head])[:limit]


def _message_from_json(body: object) -> str:
    if isinstance(body, str):
        return body
    if isinstance(body, list):
        return "; ".join(_message_from_json(item) for item in body[:3])
    if not isinstance(body, dict):
        return ""
    for key in ("error", "detail", "message", "msg", "failure_reason", "title"):
        value = body.get(key)
        if value:
            # FastAPI validation errors: [{"loc": [...], "msg": "..."}]; nested {"error": {"message"}}.
            if isinstance(value, list):
                return "; ".join(_validation_item(v) for v in value[:3])
            return _message_from_json(value) if not isinstance(value, str) else value
    return ""


def _validation_item(item: object) -> str:
    if isinstance(item, dict) and "msg" in item:
        where = ".".join(str(p) for p in item.get("loc", []) if p != "body")
        return f"{where}: {item['msg']}" if where else str(item["msg"])
    return _message_from_json(item)


def error_for_status(
    status: int, message: str, *, provider: str, retry_after: float | None = None, param: str | None = None
) -> ReelforgeError:
    """One classification for every provider: the status decides the class, the text explains."""
    said = f": {message}" if message else ""
    if status in (400, 404, 409, 413, 415, 422):
        return InvalidRequest(f"{provider} rejected the request (HTTP {status}){said}.", param=param)
    if status in (401, 403):
        return AuthFailed(
            f"{provider} refused the API key (HTTP {status}){said}.",
            hint="Check that the key is valid, active and allowed to use this model.",
        )
    if status == 402:
        return InsufficientCredits(
            f"{provider} says the account is out of credits (HTTP 402){said}.",
            hint="Add credits in the provider's dashboard, or choose another provider.",
        )
    if status == 429:
        return RateLimited(f"{provider} is rate limiting this account (HTTP 429){said}.", retry_after=retry_after)
    if status == 408 or status >= 500:
        return ProviderFailure(f"{provider} had a server error (HTTP {status}){said}. Try again in a minute.")
    return ProviderFailure(f"{provider} answered with an unexpected HTTP {status}{said}.")


def status_error_map(provider: str) -> ErrorMap:
    """The default `error_map`: `error_for_status` with the body's message and Retry-After."""

    def to_error(response: httpx.Response) -> ReelforgeError:
        return error_for_status(
            response.status_code,
            response_message(response),
            provider=provider,
            retry_after=parse_retry_after(response.headers),
        )

    return to_error


def _transport_failed_before_send(exc: httpx.TransportError) -> bool:
    """True when the request certainly never reached the server (so nothing was created)."""
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol, httpx.PoolTimeout))


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    json: object = None,
    data: Mapping[str, Any] | None = None,
    files: Any = None,
    content: bytes | None = None,
    params: Mapping[str, Any] | None = None,
    retry_reads: bool,
    error_map: ErrorMap,
    provider: str = "the provider",
    policy: RetryPolicy = DEFAULT_RETRY,
    timeout: float | httpx.Timeout | None = None,
    expect_json: bool = False,
) -> httpx.Response:
    """Send one request and return a 2xx response, or raise a mapped `ReelforgeError`.

    `retry_reads=True` is for reads and idempotent calls (status, cancel): retried on 408/429/5xx
    and transport errors. `retry_reads=False` is for creates: sent once; a failure after the
    request may have reached the provider raises `OutcomeUnknown`. With `expect_json`, a 2xx body
    that is not JSON is retried for reads and is `OutcomeUnknown` for creates (the provider
    answered, so a job may exist, but we cannot read its id).
    """
    extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
    attempts = policy.max_attempts if retry_reads else 1
    for attempt in range(1, attempts + 1):
        last = attempt == attempts
        try:
            response = await client.request(
                method, url, headers=headers, json=json, data=data, files=files, content=content, params=params,
                **extra,
            )
        except httpx.TransportError as exc:
            if not retry_reads:
                raise _create_transport_error(exc, provider, url) from None
            if last:
                raise _read_transport_error(exc, provider, attempts) from None
            wait, why = policy.backoff(attempt), type(exc).__name__
        else:
            wait = _judge(response, retry_reads=retry_reads, last=last, expect_json=expect_json,
                          error_map=error_map, provider=provider, policy=policy, attempt=attempt)  # fmt: skip
            if wait is None:
                return response
            why = f"HTTP {response.status_code}"
        log.info("%s %s: %s; retrying in %.2f s", method, safe_url(url), why, wait)
        await anyio.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover - the loop always returns or raises


def _judge(
    response: httpx.Response, *, retry_reads: bool, last: bool, expect_json: bool, error_map: ErrorMap,
    provider: str, policy: RetryPolicy, attempt: int,
) -> float | None:
    """None to accept the response, seconds to wait before reading again; raises a mapped error."""
    if response.is_success:
        if not expect_json or _is_json(response):
            return None
        if not retry_reads:
            raise OutcomeUnknown(
                f"{provider} accepted the create request but its answer could not be read, so the job id "
                "is unknown (a job may have been started and billed).",
                hint=DO_NOT_RESUBMIT,
            )
        if last:
            raise ProviderFailure(f"{provider} kept answering with unreadable (non-JSON) bodies. Try again later.")
        return policy.backoff(attempt)
    if not retry_reads and response.status_code in UNKNOWN_CREATE_STATUSES:
        raise OutcomeUnknown(
            f"{provider} answered HTTP {response.status_code} to the create request, so it is unknown "
            "whether a job was started (and billed).",
            hint=DO_NOT_RESUBMIT,
        )
    if not retry_reads or last or response.status_code not in RETRYABLE_STATUSES:
        raise error_map(response)
    wait = _retry_wait(response, attempt, policy)
    if wait is None:  # asked to wait longer than we are willing to block
        raise error_map(response)
    return wait


def _is_json(response: httpx.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True


def policy_from_settings(settings: Any) -> RetryPolicy:
    """Read retries paced like polling: a fast poll setting (tests, local setups) means fast retries."""
    return RetryPolicy(
        base_delay_s=min(DEFAULT_RETRY.base_delay_s, settings.poll_min_interval_s),
        max_delay_s=min(DEFAULT_RETRY.max_delay_s, settings.poll_max_interval_s),
    )


def _retry_wait(response: httpx.Response, attempt: int, policy: RetryPolicy) -> float | None:
    asked = parse_retry_after(response.headers)
    if asked is None:
        return policy.backoff(attempt)
    if asked > policy.max_retry_after_s:
        return None
    # Honour the server's wait, plus a little jitter so parallel pollers do not arrive together.
    return asked + random.uniform(0, min(1.0, policy.base_delay_s))


def _create_transport_error(exc: httpx.TransportError, provider: str, url: str) -> ReelforgeError:
    if _transport_failed_before_send(exc):
        return ProviderFailure(
            f"Could not connect to {provider} ({safe_url(url)}): {type(exc).__name__}. Nothing was submitted; "
            "check the network and try again."
        )
    return OutcomeUnknown(
        f"The connection to {provider} failed ({type(exc).__name__}) after the create request was sent, "
        "so it is unknown whether a job was started (and billed).",
        hint=DO_NOT_RESUBMIT,
    )


def _read_transport_error(exc: httpx.TransportError, provider: str, attempts: int) -> ReelforgeError:
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout(f"{provider} did not answer in time ({attempts} attempts). Try again later.")
    return ProviderFailure(f"Could not reach {provider} ({type(exc).__name__}, {attempts} attempts). Try again later.")
