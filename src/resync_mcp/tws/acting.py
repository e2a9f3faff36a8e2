"""Per-principal engine credentials for writes (``engines.<name>.acting_credentials_file``), so
that HWA's own audit names the person who acted rather than the server's service account.

The file holds no secret: each ``[[credential]]`` names a ``principal`` (the subject resync-mcp
verified), the engine ``username`` (basic) and where its secret is, ``password_file`` /
``token_file`` or ``password_env`` / ``token_env``. It is read again when it changes. Reads keep
the engine's own credential (their answers are shared through the cache); a write from a
principal with no entry is refused rather than sent under the service account.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import httpx

from resync_mcp.errors import ConfigError, NotAllowed
from resync_mcp.paths import toml_if_changed
from resync_mcp.security.policy import Principal


class BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


@dataclass(frozen=True)
class _Entry:
    username: str | None
    secret_file: str | None
    secret_env: str | None


class ActingCredentials:
    def __init__(self, path: Path, *, engine: str, scheme: str) -> None:
        self.path, self.engine, self.scheme = path, engine, scheme
        self._stamp: tuple[int, int] | None = None
        self._entries: dict[str, _Entry] = {}
        self._load()

    def _load(self) -> None:
        field = "password" if self.scheme == "basic" else "token"
        try:
            data, stamp = toml_if_changed(self.path, self._stamp)
            if data is None:
                return
            entries = {
                str(c["principal"]): _Entry(c.get("username"), c.get(f"{field}_file"), c.get(f"{field}_env"))
                for c in data.get("credential", [])
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(
                f"The acting credentials file {self.path} of engine '{self.engine}' cannot be read: {exc}.",
                hint=f"Each [[credential]] needs principal and {field}_file or {field}_env"
                + (" and username." if self.scheme == "basic" else "."),
            ) from None
        bad = [
            p
            for p, e in entries.items()
            if (e.secret_file is None) == (e.secret_env is None) or (self.scheme == "basic" and not e.username)
        ]
        if bad:
            raise ConfigError(f"The acting credentials file {self.path} has invalid entries for: {', '.join(bad)}.")
        self._entries, self._stamp = entries, stamp

    def auth_for(self, principal: Principal) -> httpx.Auth:
        """The principal's own credential on this engine.

        Raises:
            NotAllowed: the principal has none (or its secret cannot be read).
        """
        self._load()
        entry = self._entries.get(principal.id)
        secret = None
        if entry is not None and entry.secret_env is not None:
            secret = os.environ.get(entry.secret_env)
        elif entry is not None and entry.secret_file is not None:
            try:
                secret = Path(entry.secret_file).read_text(encoding="utf-8").strip()
            except OSError:
                secret = None
        if entry is None or not secret:
            raise NotAllowed(
                f"'{principal.id}' has no usable credential of their own on engine '{self.engine}', "
                "and writes there are made in the acting person's name.",
                hint=f"An administrator adds a [[credential]] for them to {self.path}.",
            )
        if self.scheme == "basic":
            return httpx.BasicAuth(entry.username or "", secret)
        return BearerAuth(secret)
