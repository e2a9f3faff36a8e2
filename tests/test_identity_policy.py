"""Every caller is decided again: for random principals and tools, a call is carried out only if
the policy allows it, and tools/list shows exactly what the policy allows; the JWKS cache refetches
an unknown key at most once per interval (on the injected clock)."""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resync_mcp.app import App
from resync_mcp.errors import NotAllowed
from resync_mcp.security.oauth import Jwks
from resync_mcp.security.policy import RULES, Deny, Principal, decide, principal_var
from resync_mcp.security.tokens import InvalidToken
from resync_mcp.server.pipeline import AuthorizeStage, ToolCall

pytestmark = pytest.mark.anyio

principals = st.builds(
    Principal,
    id=st.from_regex(r"[a-z]{1,8}", fullmatch=True),
    roles=st.frozensets(st.sampled_from(["viewer", "operator", "admin", "guest"]), max_size=3),
    via=st.sampled_from(["static", "oauth"]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(principal=principals, tool=st.sampled_from(sorted(RULES)))
async def test_a_call_runs_only_when_the_policy_allows_it(app: App, principal: Principal, tool: str) -> None:
    authorize = next(s for s in app.pipeline.stages if isinstance(s, AuthorizeStage))
    ran: list[str] = []

    async def handler(call: ToolCall) -> Any:
        ran.append(call.tool)
        return None

    token = principal_var.set(principal)
    try:
        with contextlib.suppress(NotAllowed):  # a refusal; whether the tool ran is what is asserted
            await authorize(ToolCall(tool, {}, None), handler)
    finally:
        principal_var.reset(token)
    allowed = not isinstance(decide(principal, tool, {}, authorize.policy), Deny)
    assert (ran == [tool]) is allowed, (principal, tool)
    if not principal.roles & {"viewer", "operator", "admin"} and tool != "whoami":
        assert not allowed  # no role, nothing but whoami


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(principal=principals)
async def test_the_tool_list_is_what_the_policy_allows(app: App, principal: Principal) -> None:
    authorize = next(s for s in app.pipeline.stages if isinstance(s, AuthorizeStage))
    token = principal_var.set(principal)
    try:
        listed = {t.name for t in await app.server.list_tools()}
    finally:
        principal_var.reset(token)
    registered = {t.name for t in app.server._tool_manager.list_tools()}
    allowed = {t for t in registered if not isinstance(decide(principal, t, {}, authorize.policy), Deny)}
    assert listed == allowed


async def test_an_unknown_key_is_fetched_again_at_most_once_per_interval() -> None:
    fetched: list[int] = []
    keys = {"keys": [{"kty": "oct", "kid": "k1"}]}

    def answer(request: httpx.Request) -> httpx.Response:
        fetched.append(1)
        return httpx.Response(200, json=keys)

    now = [1000.0]
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        jwks = Jwks("http://issuer.invalid/jwks", timeout_s=1, refresh_s=300, monotonic=lambda: now[0], client=http)
        assert (await jwks.key("k1"))["kid"] == "k1" and len(fetched) == 1
        for _ in range(5):  # a flood of made-up kids: one refetch at most per interval
            with pytest.raises(InvalidToken):
                await jwks.key("made-up")
        assert len(fetched) == 1
        now[0] += 301
        keys["keys"].append({"kty": "oct", "kid": "k2"})  # the issuer rotated its keys
        assert (await jwks.key("k2"))["kid"] == "k2" and len(fetched) == 2


async def test_requests_that_arrive_together_wait_for_the_first_fetch_of_the_keys() -> None:
    """The first requests after start come together: none may be refused while the keys are
    being fetched (found by bench/bench_auth.py), and they are fetched once."""
    fetched: list[int] = []
    release = anyio.Event()

    async def answer(request: httpx.Request) -> httpx.Response:
        fetched.append(1)
        await release.wait()
        return httpx.Response(200, json={"keys": [{"kty": "oct", "kid": "k1"}]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        jwks = Jwks("http://issuer.invalid/jwks", timeout_s=1, refresh_s=300, monotonic=lambda: 0.0, client=http)
        found: list[str] = []

        async def ask() -> None:
            found.append((await jwks.key("k1"))["kid"])

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(ask)
            await anyio.wait_all_tasks_blocked()
            release.set()
    assert found == ["k1"] * 5 and len(fetched) == 1
