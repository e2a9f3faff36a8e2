"""Confirmation tokens and idempotency keys: the two memories that make a write exactly-once
and human-approved. Here both live in process, bounded, on an injected clock; with Redis
configured, the fleet shares them (shared.py), with the same contract.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from resync_mcp.clock import Clock
from resync_mcp.errors import EngineUnavailable, InvalidArgument, OutcomeUnknown, ResyncError

T = TypeVar("T")
# Arguments that do not change what the action does, so they do not change its fingerprint.
_NOT_BINDING = frozenset({"preview", "confirmation_token", "idempotency_key", "reason", "ticket", "engine"})


# What a person confirmed includes why: the justification sent to HWA (and recorded) must be the one
# shown when the token was issued.
_JUSTIFICATION = frozenset({"reason", "ticket"})


def fingerprint(
    tool: str,
    engine: str,
    target_id: str,
    run: str | None,
    principal: str,
    args: Mapping[str, Any],
    *,
    justification: bool = False,
) -> str:
    """One hash of everything that makes two calls the same action on the same object (with
    ``justification``, the reason and ticket too: a confirmation token's print)."""
    skip = _NOT_BINDING - _JUSTIFICATION if justification else _NOT_BINDING
    bound = {k: v for k, v in sorted(args.items()) if k not in skip and v is not None}
    raw = json.dumps([tool, engine, target_id, run, principal, bound], sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


class Tokens(Protocol):
    """Single-use confirmation tokens (here, or in Redis for a fleet: shared.py)."""

    ttl_s: float

    async def issue(self, print_: str) -> tuple[str, float]: ...

    async def redeem(self, token: str, print_: str) -> None: ...


class Idempotency(Protocol[T]):
    """Outcomes by idempotency key (here, or in Redis for a fleet: shared.py)."""

    async def known(self, key: str, print_: str) -> bool: ...

    async def run(
        self, key: str, print_: str, work: Callable[[], Awaitable[T]], keep: Callable[[T], bool]
    ) -> tuple[T, bool]: ...


AGAIN = "Call the tool with preview=true for a new token, and have it confirmed again."
KEY_REUSED = (
    "This idempotency key was already used for a different action.",
    "Use a new key for a new action; reuse a key only to repeat the very same call.",
)


@dataclass
class _Token:
    print: str
    expires: float
    used: bool = False


class ConfirmationTokens:
    def __init__(self, clock: Clock, ttl_s: float, max_tokens: int = 10_000) -> None:
        self._clock = clock
        self.ttl_s = ttl_s
        self._max = max_tokens
        self._tokens: OrderedDict[str, _Token] = OrderedDict()

    async def issue(self, print_: str) -> tuple[str, float]:
        """A fresh single-use token for this fingerprint; returns it and its expiry (monotonic)."""
        token = "ct_" + secrets.token_urlsafe(18)
        expires = self._clock.monotonic() + self.ttl_s
        self._tokens[token] = _Token(print_, expires)
        while len(self._tokens) > self._max:
            self._tokens.popitem(last=False)
        return token, expires

    async def redeem(self, token: str, print_: str) -> None:
        """Consume ``token`` for this exact action.

        Raises:
            InvalidArgument: unknown, expired, already used, or issued for another action.
        """
        entry = self._tokens.get(token)
        again = AGAIN
        if entry is None:
            raise InvalidArgument("The confirmation token is not known here (never issued or forgotten).", hint=again)
        if entry.used:
            raise InvalidArgument("The confirmation token was already used; each token confirms one call.", hint=again)
        if self._clock.monotonic() >= entry.expires:
            raise InvalidArgument("The confirmation token has expired.", hint=again)
        if not secrets.compare_digest(entry.print, print_):
            raise InvalidArgument(
                "The confirmation token was issued for a different action, object, run, caller, reason or ticket.",
                hint=again,
            )
        entry.used = True


def may_have_been_sent(exc: BaseException) -> bool:
    """Whether a failed write may have reached the engine. Only our own refusals (before the
    request) and the engine's explicit 4xx answers prove it did not act; a lost answer, a 5xx,
    or anything unexpected might have come after the engine changed the plan."""
    if isinstance(exc, OutcomeUnknown):
        return True
    if isinstance(exc, EngineUnavailable):
        return exc.status is not None and exc.status >= 500  # a 5xx answer: sent; 429 or no answer at connect: not
    return not isinstance(exc, ResyncError)


@dataclass
class _Slot(Generic[T]):
    print: str
    expires: float
    future: asyncio.Future[T]


class IdempotencyStore(Generic[T]):
    """The outcome of each keyed call, kept ``ttl_s``: a repeat gets the stored outcome; a
    concurrent repeat waits for the first; the same key with other arguments is refused."""

    def __init__(self, clock: Clock, ttl_s: float, max_keys: int = 50_000) -> None:
        self._clock = clock
        self._ttl = ttl_s
        self._max = max_keys
        self._slots: OrderedDict[str, _Slot[T]] = OrderedDict()

    def _expire(self) -> None:
        now = self._clock.monotonic()
        for key in [k for k, s in self._slots.items() if s.expires <= now and s.future.done()]:
            del self._slots[key]
        while len(self._slots) > self._max:
            self._slots.popitem(last=False)

    async def known(self, key: str, print_: str) -> bool:
        return self._known(key, print_)

    def _known(self, key: str, print_: str) -> bool:
        """A key already used: for this action (True), or for another one (raises).

        Raises:
            InvalidArgument: the key was used for a different action.
        """
        self._expire()
        slot = self._slots.get(key)
        if slot is None:
            return False
        if slot.print != print_:
            raise InvalidArgument(KEY_REUSED[0], hint=KEY_REUSED[1])
        return True

    async def run(
        self, key: str, print_: str, work: Callable[[], Awaitable[T]], keep: Callable[[T], bool]
    ) -> tuple[T, bool]:
        """Run ``work`` once per key; returns (outcome, replayed). ``keep`` says whether an
        outcome is remembered (a call refused before anything was sent is not).

        Raises:
            InvalidArgument: the key was used for a different action.
        """
        if self._known(key, print_):
            return await asyncio.shield(self._slots[key].future), True
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._slots[key] = _Slot(print_, self._clock.monotonic() + self._ttl, future)
        try:
            outcome = await work()
        except asyncio.CancelledError:
            # The caller went away mid-call: the write may or may not have left. Repeats with
            # this key must not send it again, so they get "outcome unknown".
            future.set_exception(
                OutcomeUnknown(
                    "The first call with this idempotency key was cancelled; its outcome is unknown.",
                    hint="Read the object's state before doing anything else.",
                )
            )
            future.exception()
            raise
        except BaseException as exc:
            if may_have_been_sent(exc):
                # Never released: a repeat with this key is told to read the state, not sent again.
                future.set_exception(
                    exc
                    if isinstance(exc, OutcomeUnknown)
                    else OutcomeUnknown(
                        f"The first call with this idempotency key ended without a known outcome ({exc}).",
                        hint="Read the object's state before doing anything else.",
                    )
                )
            else:
                self._slots.pop(key, None)  # refused before anything was sent: a repeat may try again
                future.set_exception(exc)
            future.exception()  # retrieved: a lone leader's failure is not "never retrieved"
            raise
        future.set_result(outcome)
        if not keep(outcome):
            self._slots.pop(key, None)
        return outcome, False
