"""The one error vocabulary of reelforge.

Every failure a user or a calling model can act on is a `ReelforgeError` with a stable `code`
(stored in the ledger, returned in job views) and a message written for the model that called
the tool: what went wrong, and what to do next. Provider adapters map their wire errors onto
these classes in one place each; the MCP surface turns them into `ToolError`s in one place
(`to_tool_message`). Anything that is not a `ReelforgeError` is a bug: it is logged with its
traceback and never shown verbatim (it could carry URLs or secrets), except the environment
failures `explain` recognises (disk full, read-only home, an image too large to decode).
"""

from __future__ import annotations

from typing import Any, ClassVar

from reelforge.redact import redact


class ReelforgeError(Exception):
    """Base class: a failure with a stable code and an actionable message."""

    code: ClassVar[str] = "error"
    #: True when trying the same request again later can succeed without changes.
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        # Provider text can echo keys and signed URLs: made clean here, it stays clean in the tool
        # error, the ledger and every message built from it (see `reelforge.redact`).
        message = redact(message)
        super().__init__(message)
        self.message = message
        self.hint = redact(hint) if hint else hint

    def __str__(self) -> str:
        return redact(f"{self.message} {self.hint}" if self.hint else self.message)  # also after `.message = ...`


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

    def __init__(self, provider: str, env_var: str | tuple[str, ...]) -> None:
        names = (env_var,) if isinstance(env_var, str) else tuple(env_var)
        what = "No API key" if len(names) == 1 else "No credentials"
        variables = f"the {names[0]} environment variable" if len(names) == 1 else (
            f"the {', '.join(names[:-1])} and {names[-1]} environment variables")
        super().__init__(
            f"{what} for {provider}: set {variables} (in the MCP host's config 'env' block) and restart the server.",
        )
        self.provider = provider
        self.env_var = names[0]
        self.env_vars = names


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


class CannotRecover(ReelforgeError):
    """The provider cannot list or look up jobs, so a create whose answer was lost cannot be found."""

    code = "cannot_recover"


class OutcomeUnknown(ReelforgeError):
    """We cannot tell whether the provider accepted (and billed) a create request.

    Never a reason to submit again: the job stays visible so the user can check.
    """

    code = "outcome_unknown"


class BudgetExceeded(ReelforgeError):
    code = "budget_exceeded"


class QuotaExceeded(InvalidRequest):
    """A limit of the caller's tier (allowed models, sizes, or what is left of today's allowance)."""

    code = "quota_exceeded"


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


class DiskFull(ReelforgeError):
    """The disk holding the ledger, outputs or cache has no room left."""

    code = "disk_full"


class StorageUnavailable(ReelforgeError):
    """The data directory (or a file in it) cannot be written or read: read-only, permissions, I/O."""

    code = "storage_unavailable"


def to_tool_message(exc: ReelforgeError) -> str:
    """The text a calling model reads for a failure: code first so it can branch on it."""
    return f"[{exc.code}] {exc}"


# -- environment failures a user can fix ----------------------------------------------------------
_HOME_HINT = "set REELFORGE_HOME to a folder on a disk with room"


def _explain_one(exc: BaseException) -> ReelforgeError | None:
    import errno
    import sqlite3

    if isinstance(exc, ReelforgeError):
        return exc
    text = str(exc)
    if isinstance(exc, sqlite3.Error):
        if "full" in text:  # SQLITE_FULL: "database or disk is full"
            return DiskFull(f"The job ledger could not be written: {text}.",
                            hint=f"Free some space on its disk (or {_HOME_HINT}), then try again.")
        return StorageUnavailable(f"The job ledger cannot be used: {text}.",
                                  hint="Check that REELFORGE_HOME is writable (run `reelforge doctor`), or point "
                                  "REELFORGE_HOME at a writable folder.")
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        where = f" while writing {exc.filename}" if exc.filename else ""
        return DiskFull(f"{exc.strerror or 'No space left on device'}{where}.",
                        hint=f"Free some space on that disk (or {_HOME_HINT}), then try again.")
    if isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        where = f" on {exc.filename}" if exc.filename else ""
        return StorageUnavailable(f"{exc.strerror}{where}.",
                                  hint="Make that folder writable, or set REELFORGE_HOME to a writable folder.")
    if isinstance(exc, OSError) and exc.errno in (errno.ENOTDIR, errno.EEXIST):
        # A folder reelforge needs is a file (REELFORGE_HOME, or a part of its path, named a file).
        where = f": {exc.filename}" if exc.filename else ""
        return StorageUnavailable(f"A folder reelforge needs is blocked by a file{where} ({exc.strerror}).",
                                  hint="Move that file away, or set REELFORGE_HOME to a folder.")
    if type(exc).__name__ == "DecompressionBombError":  # Pillow's guard; no Pillow import needed here
        return InvalidRequest(f"An input image is too large to decode safely ({text.split(', could be')[0]}).",
                              hint="Pass a smaller image (at most about 89 megapixels, e.g. 8000x8000 or less).")
    if isinstance(exc, ValueError) and ("null byte" in text or "null character" in text):
        return InvalidRequest("A path contains a NUL byte (\\x00), which no file name can hold.",
                              hint="Pass the path without control characters.")
    return None


def explain(exc: BaseException) -> ReelforgeError | None:
    """The actionable error behind an unexpected exception (disk full, read-only home, an image too
    large to decode, a NUL byte in a path), or None for a real bug. Follows causes and groups."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending and len(seen) < 16:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        found = _explain_one(current)
        if found is not None:
            return found
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return None


# -- pydantic validation errors, in words a calling model (or a person) can act on --------------------
_BOUNDS = {"less_than_equal": ("≤", "le"), "less_than": ("<", "lt"), "greater_than_equal": ("≥", "ge"),
           "greater_than": (">", "gt")}


def _loc(parts: tuple[Any, ...]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "request"


def _shown(value: Any) -> str:
    text = redact(repr(value) if isinstance(value, str) else str(value))  # a key pasted into the wrong field
    return text if len(text) <= 40 else text[:37] + "…"


def validation_text(exc: Any, *, prefix: str = "", names: dict[str, str] | None = None) -> str:
    """One line per wrong field: `loc: what is wrong (got value)`; no URLs, no error-type tags.

    `prefix` is prepended to every location (e.g. 'timeline.clips[0].generate'); `names` renames
    locations (the CLI shows flags such as --duration instead of field names). Errors in the
    settings name the environment variable to fix.
    """
    parts = []
    for err in exc.errors(include_url=False):
        loc = _loc(tuple(err["loc"]))
        if getattr(exc, "title", "") == "Settings" and not names:
            loc = f"REELFORGE_{loc.upper()}" if loc.islower() else loc  # provider keys keep their own names
        loc = (names or {}).get(loc, loc)
        if prefix:
            loc = f"{prefix}.{loc}" if loc != "request" else prefix
        kind, ctx, msg = err["type"], err.get("ctx") or {}, err["msg"]
        if kind in _BOUNDS and _BOUNDS[kind][1] in ctx:
            bound = ctx[_BOUNDS[kind][1]]
            what = f"must be {_BOUNDS[kind][0]} {f'{bound:g}' if isinstance(bound, float) else bound}"
        elif kind == "extra_forbidden":
            parts.append(f"{loc}: is not a field of this request (check the spelling against the input schema)")
            continue
        elif kind == "missing":
            parts.append(f"{loc}: is required")
            continue
        elif kind.startswith("value_error") or kind == "assertion_error":
            what = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        else:
            what = msg[:1].lower() + msg[1:]
        got = err.get("input")
        shown = f" (got {_shown(got)})" if isinstance(got, (str, int, float, bool)) else ""
        parts.append(f"{loc}: {what}{shown}")
    return "; ".join(parts)
