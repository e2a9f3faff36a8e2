"""OAuth 2.1 access tokens to principals: JWTs checked against the issuer's keys (JWKS), and
opaque tokens through RFC 7662 introspection. PyJWT over ``cryptography`` does the crypto.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt
from cachetools import LRUCache

from resync_mcp.config import AuthSettings
from resync_mcp.security.policy import Principal
from resync_mcp.security.tokens import InvalidToken

Now = Callable[[], float]


class Jwks:
    """The issuer's keys, cached; an unknown ``kid`` refetches them at most once per
    ``refresh_s`` (a flood of made-up kids cannot hammer the issuer)."""

    def __init__(
        self, url: str, *, timeout_s: float, refresh_s: float, monotonic: Now, client: httpx.AsyncClient
    ) -> None:
        self.url, self.timeout_s, self.refresh_s = url, timeout_s, refresh_s
        self._monotonic, self._client = monotonic, client
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def _fetch(self) -> None:
        self._fetched_at = self._monotonic()
        self.fetches += 1
        try:
            answer = await self._client.get(self.url, timeout=self.timeout_s)
            answer.raise_for_status()
            keys = answer.json()["keys"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise InvalidToken(f"the issuer's keys could not be fetched ({type(exc).__name__})") from None
        self._keys = {str(k.get("kid", "")): k for k in keys if isinstance(k, dict)}

    async def key(self, kid: str) -> dict[str, Any]:
        if kid not in self._keys:
            async with self._lock:  # one fetch at a time; the others wait for it, then look again
                due = self._fetched_at is None or self._monotonic() - self._fetched_at >= self.refresh_s
                if kid not in self._keys and due:
                    await self._fetch()
        if kid not in self._keys:
            raise InvalidToken("unknown signing key (kid)")
        return self._keys[kid]


def _claim(claims: Mapping[str, Any], path: str) -> Any:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


class OAuthTokens:
    """An OAuth 2.1 resource server's check of a JWT access token: signature by the issuer's
    keys with an allowed asymmetric algorithm, ``iss``, ``aud`` (this server; a token without
    one is refused), ``exp``/``nbf``/``iat`` within the skew; roles from scopes or a claim."""

    def __init__(
        self,
        settings: AuthSettings,
        jwks: Jwks | None,
        *,
        wall: Callable[[], float] = time.time,
        introspect: Introspection | None = None,
    ) -> None:
        self.s, self.jwks, self.wall, self.introspect = settings, jwks, wall, introspect
        # A client sends the same token with every request: its verdict is kept until the token
        # expires (bounded), so that the signature is checked once, not per request.
        self._verified: LRUCache[bytes, tuple[float, Principal]] = LRUCache(maxsize=10_000)
        self._keys: dict[tuple[str, str], tuple[dict[str, Any], jwt.PyJWK]] = {}

    async def verify(self, token: str) -> Principal:
        digest = hashlib.sha256(token.encode()).digest()
        kept = self._verified.get(digest)
        if kept is not None and kept[0] > self.wall():
            return kept[1]
        if token.count(".") != 2 and self.introspect is not None:  # not a JWT: ask the issuer (RFC 7662)
            principal, expires = await self.introspect.verify(token, self._principal)
            expires = min(expires, self.wall() + self.s.introspection_cache_s)
        elif self.jwks is None:
            raise InvalidToken("only opaque tokens are accepted here (no jwks_url)")
        else:
            principal, expires = await self._verify(token)
        self._verified[digest] = (expires, principal)
        return principal

    async def _key(self, kid: str, alg: str) -> jwt.PyJWK:
        assert self.jwks is not None
        jwk = await self.jwks.key(kid)
        kept = self._keys.get((kid, alg))
        if kept is None or kept[0] is not jwk:  # parsed once per key (and again if the issuer's keys change)
            kept = self._keys[(kid, alg)] = (jwk, jwt.PyJWK(jwk, algorithm=alg))
        return kept[1]

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("malformed token") from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self.s.algorithms:
            raise InvalidToken(f"algorithm {str(alg)[:10]!r} is not accepted")
        if not isinstance(kid, str):
            raise InvalidToken("the token names no signing key (kid)")
        try:
            key = await self._key(kid, alg)
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self.s.audience,
                issuer=self.s.issuer,
                leeway=self.s.leeway_s,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("token expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("token not yet valid") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("token issued for another audience") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("token from another issuer") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"token without {exc.claim}") from None
        except jwt.PyJWTError:
            raise InvalidToken("invalid token") from None
        return self._principal(claims), float(claims["exp"])

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        """Roles from the token's scopes and, when configured, a roles claim."""
        scopes = frozenset(str(claims.get("scope", "")).split()) | frozenset(claims.get("scp", []) or [])
        roles = {self.s.scope_roles[sc] for sc in scopes if sc in self.s.scope_roles}
        if self.s.roles_claim:
            granted = _claim(claims, self.s.roles_claim)
            values = granted if isinstance(granted, list) else [granted]
            roles |= {self.s.claim_roles[str(v)] for v in values if str(v) in self.s.claim_roles}
        client = claims.get("client_id") or claims.get("azp")
        return Principal(
            str(claims["sub"]),
            frozenset(roles),
            via="oauth",
            issuer=str(claims.get("iss") or self.s.issuer),
            client_id=str(client) if client else None,
            scopes=scopes,
        )


class Introspection:
    """RFC 7662: the issuer says whether an opaque token is active, and for whom. The same checks
    as a JWT's apply to its answer: issuer, audience (required), expiry, subject."""

    def __init__(self, settings: AuthSettings, client: httpx.AsyncClient, wall: Callable[[], float]) -> None:
        self.s, self.client, self.wall = settings, client, wall

    async def verify(
        self, token: str, principal_of: Callable[[Mapping[str, Any]], Principal]
    ) -> tuple[Principal, float]:
        s = self.s
        assert s.introspection_url is not None
        secret = s.introspection_secret.get_secret_value() if s.introspection_secret else ""
        auth = httpx.BasicAuth(s.introspection_client_id, secret) if s.introspection_client_id else None
        try:
            answer = await self.client.post(
                s.introspection_url,
                data={"token": token, "token_type_hint": "access_token"},
                auth=auth or httpx.USE_CLIENT_DEFAULT,
                timeout=s.jwks_timeout_s,
            )
            answer.raise_for_status()
            claims = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise InvalidToken(f"the issuer could not be asked about the token ({type(exc).__name__})") from None
        if not isinstance(claims, dict) or claims.get("active") is not True:
            raise InvalidToken("token not active")
        if claims.get("iss") not in (None, s.issuer):
            raise InvalidToken("token from another issuer")
        audience = claims.get("aud")
        if s.audience not in (audience if isinstance(audience, list) else [audience]):
            raise InvalidToken("token issued for another audience")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp + s.leeway_s < self.wall():
            raise InvalidToken("token expired")
        if not claims.get("sub"):
            raise InvalidToken("token without sub")
        return principal_of(claims), float(exp)
