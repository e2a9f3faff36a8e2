"""A team's server from the outside: real server processes over HTTP with static tokens and
with OAuth access tokens (a JWKS served on loopback by the test), and the refusal to listen
beyond loopback without auth."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.conftest import call, error_text
from tests.engines import configured_engine
from tests.rawstdio import HTTP_HEADERS as HEADERS
from tests.rawstdio import INITIALIZE as INIT
from tests.test_transports import _env, _free_port, _start

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@contextmanager
def server(tmp_path: Path, toml: str) -> Iterator[str]:
    config = tmp_path / "resync.toml"
    config.write_text(
        '[demo]\nenabled = true\njobs = 100\n\n[security]\ntoolsets = ["read", "operate", "admin"]\n\n' + toml
    )
    port = _free_port()
    env = _env() | {"HOME": str(tmp_path / "home")}
    proc = _start(["--config", str(config), "serve", "--transport", "http", "--port", str(port)], tmp_path, env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@asynccontextmanager
async def session(url: str, token: str) -> Any:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with http, Client(streamable_http_client(f"{url}/mcp", http_client=http)) as mcp:
        yield mcp


async def _post(url: str, token: str | None, body: dict[str, Any] = INIT, query: str = "") -> httpx.Response:
    headers = HEADERS | ({"Authorization": f"Bearer {token}"} if token else {})
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(f"{url}/mcp{query}", json=body, headers=headers)


async def _get(url: str) -> Any:
    async with httpx.AsyncClient(timeout=10) as http:
        return (await http.get(url)).json()


def _tools_call(name: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": name, "arguments": {}}}


# ----------------------------------------------------------------------------- static tokens


def _tokens(path: Path, entries: dict[str, tuple[str, list[str]]]) -> None:
    lines = []
    for token, (principal, roles) in entries.items():
        digest = hashlib.sha256(token.encode()).hexdigest()
        lines.append(f'[[token]]\nprincipal = "{principal}"\nroles = {json.dumps(roles)}\nsha256 = "{digest}"\n')
    path.write_text("\n".join(lines))


async def test_static_tokens_identify_list_and_refuse(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    _tokens(
        tokens,
        {
            "view-secret-1": ("svc-dashboard", ["viewer"]),
            "op-secret-2": ("alice", ["operator"]),
            "op-secret-3": ("bob", ["operator"]),
        },
    )
    with server(tmp_path, f'[auth]\nmode = "static"\ntokens_file = "{tokens}"\n') as url:
        missing = await _post(url, None)
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer ")
        assert (await _post(url, "not-a-token")).status_code == 401
        in_query = await _post(url, None, query="?access_token=op-secret-2")
        assert in_query.status_code == 400 and "Authorization header" in in_query.text
        assert (await _post(url, "view-secret-1")).status_code == 200

        async with session(url, "view-secret-1") as viewer:
            names = {t.name for t in (await viewer.list_tools()).tools}
            assert "find_jobs" in names and "whoami" in names and "hold_job" not in names
            me = await call(viewer, "whoami", {})
            assert (me["principal"], me["via"], me["roles"]) == ("svc-dashboard", "static", ["viewer"])
            failed = (await call(viewer, "find_jobs", {"status": ["ERROR"], "limit": 1}))["jobs"][0]
        refused = await _post(url, "view-secret-1", _tools_call("hold_job"))
        assert refused.status_code == 403 and 'error="insufficient_scope"' in refused.headers["www-authenticate"]
        assert 'scope="hwa.operate"' in refused.headers["www-authenticate"]

        async with session(url, "op-secret-2") as operator:
            assert "hold_job" in {t.name for t in (await operator.list_tools()).tools}
            assert "set_workstation_limit" not in {t.name for t in (await operator.list_tools()).tools}
            preview = await call(operator, "hold_job", {"job": failed["id"], "preview": True})
            assert preview["outcome"] == "preview"
            waiting = (await call(operator, "find_jobs", {"status": ["WAITING"], "limit": 1}))["jobs"][0]
            cancel = {"job": waiting["id"], "reason": "duplicate run", "ticket": "INC-1"}
            alices = (await call(operator, "cancel_job", cancel | {"preview": True}))["confirmation_token"]
        async with session(url, "op-secret-3") as bob:  # a token issued to alice is not bob's to redeem
            text = await error_text(bob, "cancel_job", cancel | {"confirmation_token": alices})
            assert "different action, object, run, caller" in text
        audit = await _post(url, "op-secret-2", _tools_call("recent_audit_entries"))  # admin only, though unlisted
        assert audit.status_code == 403 and 'scope="hwa.admin"' in audit.headers["www-authenticate"]

        _tokens(tokens, {"op-secret-2": ("alice", ["operator"])})  # the viewer's token revoked by editing the file
        assert (await _post(url, "view-secret-1")).status_code == 401
        assert (await _post(url, "op-secret-2")).status_code == 200


# ----------------------------------------------------------------------------- OAuth


class Issuer:
    """Keys and a JWKS served on loopback, as an authorization server has them."""

    ISS = "https://id.example.test/realms/ops"

    def __init__(self) -> None:
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        jwks = {
            "keys": [
                self._jwk(self.rsa.public_key(), "rsa-1", "RS256"),
                self._jwk(self.ec.public_key(), "ec-1", "ES256"),
            ]
        }
        body = json.dumps(jwks).encode()
        self.fetches = 0
        self.opaque: dict[str, dict[str, Any]] = {}  # RFC 7662 answers by token
        self.introspected: list[tuple[str | None, str]] = []  # (Authorization header, token in the body)
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, data: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                issuer.fetches += 1
                self._send(body)

            def do_POST(self) -> None:
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                token = form["token"][0]
                issuer.introspected.append((self.headers.get("Authorization"), token))
                self._send(json.dumps(issuer.opaque.get(token, {"active": False})).encode())

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.jwks_url = f"http://127.0.0.1:{self.http.server_address[1]}/jwks"

    @staticmethod
    def _jwk(public: Any, kid: str, alg: str) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(public))
        return jwk | {"kid": kid, "alg": alg, "use": "sig"}

    def token(
        self, audience: str | None, *, scope: str = "hwa.read", kid: str = "rsa-1", alg: str = "RS256", **claims: Any
    ) -> str:
        now = int(time.time())
        body: dict[str, Any] = {"iss": self.ISS, "sub": "u-123", "iat": now, "exp": now + 600, "scope": scope}
        body |= {"client_id": "claude-remote"} | ({"aud": audience} if audience else {}) | claims
        key = self.rsa if alg.startswith("RS") else self.ec
        return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    found = Issuer()
    yield found
    found.http.shutdown()


def _unsigned(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, None, algorithm="none", headers={"kid": "rsa-1"})


async def test_oauth_token_matrix(tmp_path: Path, issuer: Issuer) -> None:
    port = _free_port()  # the audience is this server's own URL, so the port is chosen first
    audience = f"http://127.0.0.1:{port}/mcp"
    toml = (
        f'[server]\nport = {port}\n\n[auth]\nmode = "oauth"\nissuer = "{issuer.ISS}"\n'
        f'jwks_url = "{issuer.jwks_url}"\naudience = "{audience}"\n'
    )
    config = tmp_path / "oauth.toml"
    config.write_text(
        '[demo]\nenabled = true\njobs = 100\n\n[security]\ntoolsets = ["read", "operate", "admin"]\n\n' + toml
    )
    env = _env() | {"HOME": str(tmp_path / "home")}
    proc = _start(["--config", str(config), "serve", "--transport", "http"], tmp_path, env)
    url = f"http://127.0.0.1:{port}"
    try:
        meta = await _get(f"{url}/.well-known/oauth-protected-resource/mcp")
        assert meta["resource"] == audience and meta["authorization_servers"] == [issuer.ISS]
        assert await _get(f"{url}/.well-known/oauth-protected-resource") == meta
        now = int(time.time())
        pem = issuer.rsa.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        refused = {
            "missing": None,
            "malformed": "abc.def",
            "wrong issuer": issuer.token(audience, iss="https://evil.example.test"),
            "wrong audience": issuer.token("https://other.example.test/mcp"),
            "no audience": issuer.token(None),
            "expired": issuer.token(audience, exp=now - 120, iat=now - 700),
            "not yet valid": issuer.token(audience, nbf=now + 600),
            "alg none": _unsigned({"iss": issuer.ISS, "sub": "u", "aud": audience, "exp": now + 600, "iat": now}),
            "HS256 with the public key": _hs256_with_public_key(pem, issuer.ISS, audience, now),
            "unknown kid": issuer.token(audience, kid="rotated-away"),
        }
        for case, token in refused.items():
            answer = await _post(url, token)
            challenge = answer.headers.get("www-authenticate", "")
            assert answer.status_code == 401, (case, answer.status_code, answer.text)
            assert f'resource_metadata="{url}/.well-known/oauth-protected-resource/mcp"' in challenge, case
        fetched = issuer.fetches
        assert (await _post(url, issuer.token(audience, kid="another-unknown"))).status_code == 401
        assert issuer.fetches == fetched  # an unknown kid refetches at most once per interval

        reader = issuer.token(audience, scope="hwa.read")
        assert (await _post(url, reader)).status_code == 200
        assert (await _post(url, issuer.token(audience, kid="ec-1", alg="ES256"))).status_code == 200
        refusal = await _post(url, reader, _tools_call("kill_job"))
        assert refusal.status_code == 403 and 'scope="hwa.operate"' in refusal.headers["www-authenticate"]
        async with session(url, issuer.token(audience, scope="hwa.read hwa.operate")) as operator:
            me = await call(operator, "whoami", {})
            assert (me["principal"], me["issuer"], me["client_id"]) == ("u-123", issuer.ISS, "claude-remote")
            assert me["roles"] == ["operator", "viewer"] and "kill_job" in me["tools"]
            assert "submit_adhoc_job" not in {t.name for t in (await operator.list_tools()).tools}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _hs256_with_public_key(pem: bytes, iss: str, audience: str, now: int) -> str:
    """The classic confusion attack: HMAC keyed with the issuer's public key (PyJWT refuses to
    sign it, so it is built by hand)."""
    import base64
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    body = b64(json.dumps({"iss": iss, "sub": "u", "aud": audience, "exp": now + 600, "iat": now}).encode())
    signature = hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


# ----------------------------------------------------------------------------- no auth


def test_no_auth_refuses_a_non_loopback_address(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "resync_mcp", "serve", "--demo", "--transport", "http", "--host", "0.0.0.0"],  # noqa: S104
        env=_env() | {"HOME": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "without authentication" in out.stderr and "RESYNC_AUTH__MODE" in out.stderr


def test_the_lab_override_starts_and_says_so_loudly(tmp_path: Path) -> None:
    port = _free_port()
    env = _env() | {"HOME": str(tmp_path), "RESYNC_AUTH__ALLOW_REMOTE_WITHOUT_AUTH": "true"}
    args = ["serve", "--demo", "--transport", "http", "--host", "0.0.0.0", "--port", str(port)]  # noqa: S104
    proc = subprocess.Popen(
        [sys.executable, "-m", "resync_mcp", *args], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if "Uvicorn running" in line:
                break
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert any("UNAUTHENTICATED_REMOTE_SERVER" in line for line in seen), "".join(seen)


# ----------------------------------------------------------------------------- no token passthrough


async def test_the_clients_token_never_reaches_the_engine(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    _tokens(tmp_path / "tokens.toml", {"op-secret-9": ("alice", ["operator"])})
    toml = f'[auth]\nmode = "static"\ntokens_file = "{tokens}"\n'
    with configured_engine(tmp_path, toml=toml + '\n[security]\ntoolsets = ["read", "operate"]\n') as lab:
        port = _free_port()
        args = ["--config", str(lab.config), "serve", "--transport", "http", "--port", str(port)]
        proc = _start(args, lab.work, lab.env)
        url = f"http://127.0.0.1:{port}"
        try:
            async with session(url, "op-secret-9") as operator:
                job = (await call(operator, "find_jobs", {"status": ["ERROR"], "limit": 1}))["jobs"][0]
                await call(operator, "get_job_log", {"job": job["id"]})
                await call(operator, "hold_job", {"job": job["id"], "preview": True})
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        seen = set((await _get(f"{lab.engine_url}/_sim/info"))["authorizationDigests"])
    engine_credential = "Basic " + base64.b64encode(b"u:p").decode()
    assert seen == {hashlib.sha256(engine_credential.encode()).hexdigest()}  # the engine's own, only
    assert hashlib.sha256(b"Bearer op-secret-9").hexdigest() not in seen


async def test_opaque_tokens_are_introspected_with_the_same_checks(tmp_path: Path, issuer: Issuer) -> None:
    port = _free_port()
    audience = f"http://127.0.0.1:{port}/mcp"
    now = int(time.time())
    answer = {"active": True, "iss": issuer.ISS, "sub": "bob", "aud": audience, "exp": now + 600}
    issuer.opaque = {
        "opaque-op": answer | {"scope": "hwa.read hwa.operate", "client_id": "vscode"},
        "opaque-other": answer | {"aud": "https://other.example.test/mcp", "scope": "hwa.read"},
        "opaque-old": answer | {"exp": now - 600, "scope": "hwa.read"},
    }
    introspect = issuer.jwks_url.replace("/jwks", "/introspect")
    toml = (
        f'[server]\nport = {port}\n\n[auth]\nmode = "oauth"\nissuer = "{issuer.ISS}"\n'
        f'jwks_url = "{issuer.jwks_url}"\naudience = "{audience}"\nintrospection_url = "{introspect}"\n'
        'introspection_client_id = "resync"\n'
    )
    config = tmp_path / "oauth.toml"
    config.write_text('[demo]\nenabled = true\njobs = 100\n\n[security]\ntoolsets = ["read", "operate"]\n\n' + toml)
    env = _env() | {"HOME": str(tmp_path / "home"), "RESYNC_AUTH__INTROSPECTION_SECRET": "s3cret"}
    proc = _start(["--config", str(config), "serve", "--transport", "http"], tmp_path, env)
    url = f"http://127.0.0.1:{port}"
    try:
        for refused in ("opaque-unknown", "opaque-other", "opaque-old"):
            assert (await _post(url, refused)).status_code == 401, refused
        async with session(url, "opaque-op") as bob:
            me = await call(bob, "whoami", {})
            assert (me["principal"], me["via"], me["client_id"]) == ("bob", "oauth", "vscode")
            assert "hold_job" in me["tools"]
            await call(bob, "plan_summary", {})
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    credential = "Basic " + base64.b64encode(b"resync:s3cret").decode()
    assert all(auth == credential for auth, _ in issuer.introspected)  # the server's own, token in the body
    assert [t for _, t in issuer.introspected].count("opaque-op") == 1  # one question per token, then kept


async def test_sessions_are_capped_per_principal_and_streams_per_server(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    _tokens(tokens, {"a-secret": ("alice", ["viewer"]), "b-secret": ("bob", ["viewer"])})
    caps = "[server]\nmax_sessions_per_principal = 2\nmax_sse_streams = 1\n\n"
    with server(tmp_path, f'{caps}[auth]\nmode = "static"\ntokens_file = "{tokens}"\n') as url:
        first, second = await _post(url, "a-secret"), await _post(url, "a-secret")
        assert first.status_code == second.status_code == 200
        third = await _post(url, "a-secret")
        assert third.status_code == 429 and "already holds 2 sessions" in third.json()["error"]["message"]
        assert (await _post(url, "b-secret")).status_code == 200  # another caller is not affected
        sid = first.headers["mcp-session-id"]
        headers = HEADERS | {"Authorization": "Bearer a-secret", "Mcp-Session-Id": sid}
        async with httpx.AsyncClient(timeout=10) as http:
            assert (await http.delete(f"{url}/mcp", headers=headers)).status_code == 200
            assert (await _post(url, "a-secret")).status_code == 200  # a closed session frees its slot
            live = second.headers["mcp-session-id"]
            stream_headers = headers | {"Mcp-Session-Id": live, "Accept": "text/event-stream"}
            async with http.stream("GET", f"{url}/mcp", headers=stream_headers) as stream:
                assert stream.status_code == 200
                busy = await http.get(f"{url}/mcp", headers=stream_headers)
                assert busy.status_code == 503 and busy.headers["retry-after"]
            for _ in range(50):  # the stream's slot is given back once the server sees it closed
                async with http.stream("GET", f"{url}/mcp", headers=stream_headers) as again:
                    if again.status_code == 200:
                        break
            else:
                raise AssertionError("the closed stream's slot was never given back")


async def test_writes_act_in_the_callers_own_engine_name(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.toml"
    _tokens(tokens, {"op-alice": ("alice", ["operator"]), "op-bob": ("bob", ["operator"])})
    acting = tmp_path / "acting.toml"
    acting.write_text('[[credential]]\nprincipal = "alice"\nusername = "alice_hwa"\npassword_env = "ALICE_HWA_PW"\n')
    toml = f'[auth]\nmode = "static"\ntokens_file = "{tokens}"\n\n[security]\ntoolsets = ["read", "operate"]\n'
    with configured_engine(tmp_path, toml=toml) as lab:
        config = lab.config.read_text().replace(
            'username = "u"\n', f'username = "u"\nacting_credentials_file = "{acting}"\n'
        )
        lab.config.write_text(config)
        port = _free_port()
        args = ["--config", str(lab.config), "serve", "--transport", "http", "--port", str(port)]
        proc = _start(args, lab.work, lab.env | {"ALICE_HWA_PW": "alice-pw"})
        url = f"http://127.0.0.1:{port}"
        try:
            async with session(url, "op-bob") as bob:  # reads: the engine's own credential, for anyone
                jobs = (await call(bob, "find_jobs", {"status": ["WAITING"], "limit": 2}))["jobs"]
                bobs = await call(bob, "hold_job", {"job": jobs[0]["id"], "preview": True})
                text = await error_text(
                    bob, "hold_job", {"job": jobs[0]["id"], "confirmation_token": bobs["confirmation_token"]}
                )
                assert "'bob' has no usable credential of their own on engine 'lab'" in text
            async with session(url, "op-alice") as alice:
                preview = await call(alice, "hold_job", {"job": jobs[1]["id"], "preview": True})
                done = await call(
                    alice, "hold_job", {"job": jobs[1]["id"], "confirmation_token": preview["confirmation_token"]}
                )
                assert done["outcome"] == "done"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        writes = await _get(f"{lab.engine_url}/_sim/writes")
    assert [w["user"] for w in writes["results"]] == ["alice_hwa"]  # bob's refusal sent nothing; alice's hold names her
