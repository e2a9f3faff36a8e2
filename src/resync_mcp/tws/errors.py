"""The one boundary where HTTP responses and transport failures become domain errors."""

from __future__ import annotations

import re

import httpx

from resync_mcp.errors import (
    AuthFailed,
    Conflict,
    EngineTimeout,
    EngineUnavailable,
    HwaError,
    InvalidQuery,
    NotFound,
    WrongState,
)

_AWS_CODE = re.compile(r"\b(AWS[A-Z]{3}\d{3}[EWI]|[A-Z][A-Z_]{5,}_ERROR)\b")
# Engine refusals that arrive as HTTP 500: what they mean, never "retry later" (hwa-rest-api.md
# §2.5 and the lab captures). Any other 5xx stays an outage the resilience layer may retry.
_REFUSALS: tuple[tuple[frozenset[str], type[HwaError], str, str], ...] = (
    (
        frozenset({"AWSBIN076E", "AWSBHU085E"}),  # "operation not possible, object in incorrect state"
        WrongState,
        "the object is in the wrong state",
        "Read the object again and choose an action its current state allows; retrying will not help.",
    ),
    (
        frozenset({"AWSBIO006E"}),  # a composite key (WS;JOBS;NAME) where the plan UUID is expected
        InvalidQuery,
        "the id is not a plan id",
        "Use the job's plan UUID (find_jobs gives it), not a WS;JOBS;NAME key.",
    ),
    (
        frozenset({"AWSJDB101E"}),  # "object not found" in the database (a submit's definition id)
        NotFound,
        "the object was not found",
        "Check the id; definitions and plan objects change.",
    ),
    (
        frozenset({"AWSJSY404E", "AWSJCS027E"}),  # the action handler's wrapper; a refused command
        HwaError,
        "the engine declined the operation",
        "Read the object and its state before anything else.",
    ),
)


def message_codes(body: str) -> list[str]:
    """AWS message codes (and OQL error codes) found anywhere in a response body."""
    return list(dict.fromkeys(_AWS_CODE.findall(body)))


def _server_message(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(data, dict):
        for key in ("message", "messages", "error"):
            value = data.get(key)
            if isinstance(value, list) and value:
                return str(value[0])[:300]
            if isinstance(value, str) and value:
                return value[:300]
    return response.text[:300]


def raise_for_response(response: httpx.Response, engine: str, what: str) -> None:
    """Raise the domain error for a non-2xx response; return for a success. AWS codes are read
    from the body and from the status line: a lab capture shows ``HTTP/1.1 500 AWSJSY404E ...``.

    Raises:
        HwaError: a subclass chosen by status code and AWS message code.
    """
    status = response.status_code
    if status < 300:
        return
    reason = response.reason_phrase or ""
    body = response.text[:4000]
    codes = message_codes(f"{reason}\n{body}")
    code = codes[0] if codes else None
    detail = _server_message(response)
    if not detail.strip() and reason:
        detail = reason[:300]
    where = f"engine '{engine}'"
    if status == 400:
        if "OQL_FILTER_SYNTAX_ERROR" in codes:
            raise InvalidQuery(
                f"HWA on {where} rejected the filter while {what}: {detail}",
                hint="Simplify the filter; name, status and folder patterns use '@' or '*' as the wildcard.",
                status=status,
                code="OQL_FILTER_SYNTAX_ERROR",
            )
        raise InvalidQuery(f"HWA on {where} rejected the request while {what}: {detail}", status=status, code=code)
    if status == 401:
        raise AuthFailed(
            f"HWA on {where} rejected the credentials while {what}.",
            hint="Check the engine's username and password or API token settings.",
            status=status,
            code=code,
        )
    if status == 403:
        raise AuthFailed(
            f"The HWA user configured for {where} is not allowed to do this ({what}).",
            hint="Ask the HWA administrator to grant the needed rights in the security file or roles.",
            status=status,
            code=code,
        )
    if status == 404:
        raise NotFound(
            f"Not found on {where} while {what}: {detail}",
            hint="Check the id; plan objects change at every plan extension (JnextPlan).",
            status=status,
            code=code,
        )
    if status == 409:
        raise Conflict(f"Conflict on {where} while {what}: {detail}", status=status, code=code)
    for known, error, meaning, hint in _REFUSALS:
        if found := known & set(codes):
            raise error(
                f"HWA on {where} refused {what}: {meaning} ({min(found)}): {detail}",
                hint=hint,
                retryable=False,
                status=status,
                code=min(found),
            )
    if status == 429 or status >= 500:
        raise EngineUnavailable(
            f"HWA on {where} failed while {what} (HTTP {status}{', ' + code if code else ''}).",
            status=status,
            code=code,
            retry_after=retry_after_seconds(response.headers.get("Retry-After")),
        )
    raise HwaError(f"HWA on {where} answered HTTP {status} while {what}: {detail}", status=status, code=code)


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form; an HTTP date is ignored)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 86_400 else None


def transport_error(exc: Exception, engine: str, what: str) -> HwaError:
    """Map a transport failure (no HTTP response) to a retryable error."""
    if isinstance(exc, httpx.TimeoutException):
        kind = "timed out"
    elif isinstance(exc, httpx.ConnectError):
        kind = "could not be reached"
    else:
        kind = f"failed ({type(exc).__name__})"
    cls = EngineTimeout if isinstance(exc, httpx.TimeoutException) else EngineUnavailable
    return cls(
        f"HWA engine '{engine}' {kind} while {what}.",
        hint="Check that the engine is up and reachable; see `resync-mcp check`.",
    )
