"""One small error tree for everything a caller (a model or a person) may see.

    ResyncError                  what happened + what to do + whether a retry can help
    ├── ConfigError              a setting is wrong; raised at startup only
    ├── InvalidArgument          the caller's input cannot be used as given
    ├── UnknownEngine            no engine by that name is configured
    └── HwaError                 the HWA engine answered with an error, or did not answer
        ├── NotFound             404: the object is not in the plan
        ├── InvalidQuery         400: bad OQL / filter / parameters
        ├── AuthFailed           401 / 403: credentials missing, wrong or lacking rights
        ├── Conflict             409: the object already exists
        ├── WrongState           the object's state does not allow the operation (AWSBIN076E)
        └── EngineUnavailable    timeout, connection failure, 5xx: retrying later may help

Messages are written for the model that reads them: one sentence on what went wrong,
one on what to do. They never contain secrets or tracebacks.
"""

from __future__ import annotations


class ResyncError(Exception):
    """Base of every error this package raises on purpose."""

    retryable: bool = False

    def __init__(self, message: str, *, hint: str = "", retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if retryable is not None:
            self.retryable = retryable

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text = f"{text} {self.hint}"
        return text

    def for_model(self) -> str:
        """The sentence shown to a client, with whether retrying can help."""
        suffix = " Retrying later may help." if self.retryable else ""
        return f"{self}{suffix}"


class ConfigError(ResyncError):
    """A setting is missing or invalid; raised at startup, names the setting and the fix."""


class InvalidArgument(ResyncError):
    """The caller's input is malformed or out of bounds."""


class UnknownEngine(ResyncError):
    """No engine with that name is configured."""


class NotAllowed(ResyncError):
    """The policy does not let this caller use this tool (role, toolset, read-only switch)."""


class Refused(ResyncError):
    """The object's current state does not allow the action; nothing was sent to HWA."""


class HwaError(ResyncError):
    """The HWA engine returned an error or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        retryable: bool | None = None,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint, retryable=retryable)
        self.status = status
        self.code = code
        self.retry_after = retry_after  # seconds, from the engine's Retry-After header


class NotFound(HwaError):
    """The object does not exist in the plan (HTTP 404)."""


class InvalidQuery(HwaError):
    """HWA rejected the request's parameters or filter (HTTP 400)."""


class AuthFailed(HwaError):
    """HWA rejected the credentials (401) or the user lacks rights (403)."""


class Conflict(HwaError):
    """The object already exists (HTTP 409)."""


class WrongState(HwaError):
    """The object's state does not allow the operation (AWSBIN076E)."""


class OutcomeUnknown(HwaError):
    """A write was sent but no answer came back: it may or may not have been applied."""


class EngineUnavailable(HwaError):
    """Timeout, connection failure or server error; the engine may recover."""

    retryable = True


class EngineTimeout(EngineUnavailable):
    """No answer in time: a hung engine. Counts toward the breaker faster than other failures."""
