"""The one error vocabulary of reelforge.

Every failure a user or a calling model can act on is a `ReelforgeError` with a stable `code`
(stored in the ledger, returned in job views) and a message written for the model that called
the tool: what went wrong, and what to do next. Provider adapters map their wire errors onto
these classes in one place each; the MCP surface turns them into `ToolError`s in one place
(`to_tool_message`). Anything that is not a `ReelforgeError` is a bug: it is logged with its
traceback and never shown verbatim (it could carry URLs or secrets).
"""

from __future__ import annotations

from typing import ClassVar


class ReelforgeError(Exception):
    """Base class: a failure with a stable code and an actionable message."""

    code: ClassVar[str] = "error"
    #: True when trying the same request again later can succeed without changes.
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class InvalidRequest(ReelforgeError):
    """The request is wrong; nothing was sent or paid."""

    code = "bad_request"

    def __init__(self, message: str, *, param: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.param = param


class UnsupportedParameter(InvalidRequest):
    """A parameter the chosen model does not accept (never silently dropped)."""

    code = "unsupported_parameter"


class InputNotAllowed(InvalidRequest):
    """A local path outside the allowed roots, or a URL to a private address."""

    code = "input_not_allowed"


class ModelRetired(InvalidRequest):
    code = "model_retired"


class MissingCredentials(ReelforgeError):
    code = "auth_missing"

    def __init__(self, provider: str, env_var: str) -> None:
        super().__init__(
            f"No API key for {provider}: set the {env_var} environment variable "
            "(in the MCP host's config 'env' block) and restart the server.",
        )
        self.provider = provider
        self.env_var = env_var


class AuthFailed(ReelforgeError):
    code = "auth_failed"


class RateLimited(ReelforgeError):
    code = "rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, hint: str | None = None) -> None:
        if hint is None and retry_after is not None:
            hint = f"Retry in about {int(retry_after + 0.999)} s."
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class InsufficientCredits(ReelforgeError):
    code = "insufficient_credits"


class ContentRejected(ReelforgeError):
    """The provider's moderation refused the prompt, the input or the output."""

    code = "moderation"


class ProviderFailure(ReelforgeError):
    code = "provider_failed"
    retryable = True


class ProviderTimeout(ReelforgeError):
    code = "timeout"
    retryable = True


class OutcomeUnknown(ReelforgeError):
    """We cannot tell whether the provider accepted (and billed) a create request.

    Never a reason to submit again: the job stays visible so the user can check.
    """

    code = "outcome_unknown"


class BudgetExceeded(ReelforgeError):
    code = "budget_exceeded"


class ConfirmationRequired(ReelforgeError):
    code = "confirmation_required"


class JobNotFound(ReelforgeError):
    code = "job_not_found"


class IdempotencyConflict(InvalidRequest):
    """An idempotency key already names a different request's job; nothing new was started."""

    code = "idempotency_conflict"


class MediaError(ReelforgeError):
    """ffmpeg or decoding failed, or produced an empty or invalid file."""

    code = "media_failed"


class Canceled(ReelforgeError):
    code = "canceled"


class LocalBackendUnavailable(ReelforgeError):
    """The local GPU backend lacks its extra, its weights, or enough memory."""

    code = "local_unavailable"


def to_tool_message(exc: ReelforgeError) -> str:
    """The text a calling model reads for a failure: code first so it can branch on it."""
    return f"[{exc.code}] {exc}"
