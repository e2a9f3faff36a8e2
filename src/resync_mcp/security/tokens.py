"""Bearer tokens to principals: static service tokens here, OAuth 2.1 access tokens (JWT, or
opaque through introspection) in security/oauth.py.

Both raise ``InvalidToken`` with a short reason (sent in ``WWW-Authenticate``; never the
token). Verification uses PyJWT over ``cryptography``; nothing here is hand-rolled crypto.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx
import structlog

from resync_mcp.config import AuthSettings
from resync_mcp.errors import ConfigError
from resync_mcp.paths import toml_if_changed
from resync_mcp.security.policy import Principal

log = structlog.get_logger("resync_mcp.auth")


class InvalidToken(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Verifier(Protocol):
    async def verify(self, token: str) -> Principal: ...


@dataclass(frozen=True)
class _Entry:
    principal: str
    roles: frozenset[str]
    digest: bytes


class StaticTokens:
    """``[[token]]`` entries of ``principal``, ``roles`` and ``sha256`` (hex of the token: the token
    itself is never stored). The file is read again when it changes, so that removing an entry
    revokes it; every entry is compared in constant time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._entries: list[_Entry] = []
        self._load()

    def _load(self) -> None:
        try:
            data, stamp = toml_if_changed(self.path, self._stamp)
            if data is None:
                return
            entries = [
                _Entry(str(t["principal"]), frozenset(t["roles"]), bytes.fromhex(str(t["sha256"])))
                for t in data.get("token", [])
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"The tokens file {self.path} cannot be read: {exc}.",
                hint="Each [[token]] needs principal, roles (viewer, operator, admin) and sha256 (hex of the token).",
            ) from None
        bad = [e.principal for e in entries if len(e.digest) != 32 or not e.roles <= {"viewer", "operator", "admin"}]
        if bad:
            raise ConfigError(f"The tokens file {self.path} has invalid entries for: {', '.join(bad)}.")
        self._entries, self._stamp = entries, stamp

    async def verify(self, token: str) -> Principal:
        try:
            self._load()
        except ConfigError as exc:  # a broken edit keeps the last good file
            log.warning("tokens_file_unreadable", message=exc.message)
        digest = hashlib.sha256(token.encode()).digest()
        found = None
        for entry in self._entries:  # every entry, always: the time says nothing about which matched
            if hmac.compare_digest(digest, entry.digest):
                found = entry
        if found is None:
            raise InvalidToken("unknown or revoked token")
        return Principal(found.principal, found.roles, via="static")


def verifier_for(
    settings: AuthSettings, *, monotonic: Callable[[], float], client: httpx.AsyncClient | None = None
) -> Verifier | None:
    if settings.mode == "static":
        assert settings.tokens_file is not None
        return StaticTokens(settings.tokens_file)
    if settings.mode == "oauth":
        from resync_mcp.security.oauth import Introspection, Jwks, OAuthTokens

        http = client or httpx.AsyncClient()
        jwks = (
            Jwks(
                settings.jwks_url,
                timeout_s=settings.jwks_timeout_s,
                refresh_s=settings.jwks_refresh_s,
                monotonic=monotonic,
                client=http,
            )
            if settings.jwks_url
            else None
        )
        introspect = Introspection(settings, http, time.time) if settings.introspection_url else None
        return OAuthTokens(settings, jwks, introspect=introspect)
    return None
