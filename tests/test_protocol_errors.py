"""Invalid params are -32602 in both protocol eras: unknown prompts, missing prompt arguments,
completion for an unknown prompt, and unknown or missing resources."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.types import PromptReference

from resync_mcp.app import App

pytestmark = pytest.mark.anyio
MISSING_JOB = "hwa://demo/plan/job/00000000-0000-4000-8000-000000000009"


async def _code(request: Callable[[], Awaitable[Any]]) -> tuple[int, str]:
    with pytest.raises(MCPError) as info:
        await request()
    return info.value.error.code, info.value.error.message


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_invalid_params_are_32602_in_both_eras(app: App, mode: str) -> None:
    async with Client(app.server, mode=mode) as mcp:  # type: ignore[arg-type]
        required = next(p for p in (await mcp.list_prompts()).prompts if any(a.required for a in p.arguments or []))
        cases = {
            "unknown prompt": lambda: mcp.get_prompt("no_such_prompt", {}),
            "missing argument": lambda: mcp.get_prompt(required.name, {}),
            "completion, unknown prompt": lambda: mcp.complete(
                PromptReference(type="ref/prompt", name="no_such_prompt"), {"name": "job", "value": "A"}
            ),
            "unknown resource": lambda: mcp.read_resource("hwa://nowhere/x"),
            "missing job": lambda: mcp.read_resource(MISSING_JOB),
        }
        for what, request in cases.items():
            code, message = await _code(request)
            assert code == -32602, (mode, what, code, message)
        code, message = await _code(cases["unknown prompt"])
        assert "no_such_prompt" in message and required.name in message  # names what exists
