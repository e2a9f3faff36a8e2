"""The tool list is context every conversation pays for: its size on the wire is budgeted, and
the compacted schemas still describe, and validate, what the tools take and return."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mcp import Client
from mcp.types import ListToolsResult

from resync_mcp.app import build_app
from resync_mcp.config import Settings
from resync_mcp.security.policy import RULES
from resync_mcp.server.schemas import compact_input, compact_output
from tests.conftest import call
from tests.rawstdio import HANDSHAKE, raw_server

pytestmark = pytest.mark.anyio

ALL_BUDGET, READ_BUDGET = 48_000, 24_000  # bytes of JSON, as sent


async def _listing(toolsets: list[str]) -> ListToolsResult:
    settings = Settings.model_validate({"demo": {"enabled": True}, "security": {"toolsets": toolsets}})
    async with Client(build_app(settings).server) as mcp:
        return await mcp.list_tools()


def _wire(result: ListToolsResult) -> int:
    return len(result.model_dump_json(by_alias=True, exclude_none=True).encode())


@pytest.mark.parametrize(("toolsets", "budget"), [(["read", "operate", "admin"], ALL_BUDGET), (["read"], READ_BUDGET)])
async def test_the_tool_list_fits_its_budget(toolsets: list[str], budget: int) -> None:
    listing = await _listing(toolsets)
    assert len(listing.tools) >= (len(RULES) if len(toolsets) == 3 else 15)
    assert _wire(listing) <= budget, f"{_wire(listing)} bytes for {toolsets}"


def test_the_budget_holds_on_the_wire_of_a_real_stdio_server(tmp_path: Path) -> None:
    """The bytes a desktop client receives: the tools/list line of `serve --demo` (every toolset)."""
    with raw_server(tmp_path) as server:
        server.send(*HANDSHAKE, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        tools = server.until(2)["result"]["tools"]
        line = server.lines[2]
    assert len(tools) == len(RULES)
    assert len(json.dumps({"tools": tools}, separators=(",", ":")).encode()) <= ALL_BUDGET
    assert len(line) <= ALL_BUDGET + 200  # the whole line: the JSON-RPC envelope adds a few bytes


def test_compaction_keeps_the_contract_and_drops_the_repetition() -> None:
    schema: dict[str, Any] = {
        "$defs": {
            "Inner": {"properties": {"n": {"title": "N", "type": "integer"}}, "required": ["n"], "type": "object"}
        },
        "properties": {
            "engine": {
                "anyOf": [{"maxLength": 64, "type": "string"}, {"type": "null"}],
                "default": None,
                "description": "Engine",
                "title": "Engine",
            },
            "limit": {
                "anyOf": [{"minimum": 1, "type": "integer"}, {"type": "null"}],
                "default": None,
                "description": "Page size",
                "title": "Limit",
            },
            "inner": {"anyOf": [{"$ref": "#/$defs/Inner"}, {"type": "null"}], "default": None},
            "items": {"items": {"$ref": "#/$defs/Inner"}, "type": "array", "title": "Items"},
            "title": {"type": "string", "title": "Title"},  # a property called "title" is kept
        },
        "required": ["items", "title"],
        "title": "Args",
        "type": "object",
    }
    given = compact_input(schema)
    assert given["properties"]["engine"] == {"type": "string"}  # shared: explained in the instructions
    assert given["properties"]["limit"] == {"minimum": 1, "type": "integer", "description": "Page size"}
    assert given["properties"]["inner"]["properties"]["n"] == {"type": "integer"}
    assert "title" in given["properties"] and "title" not in given and "$defs" not in given
    returned = compact_output(schema)
    assert set(returned["properties"]) == {"items", "title"}  # the fields every result has
    assert returned["properties"]["items"] == {"items": {"type": "object"}, "type": "array"}
    jsonschema.validate({"items": [{"n": 1}], "title": "t", "extra": None}, returned)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"items": [1], "title": "t"}, returned)


async def test_results_still_validate_against_the_published_output_schemas() -> None:
    """The SDK's client validates structured content against the output schema: a schema trimmed
    too far (a nullable field published as non-null) would fail these calls."""
    settings = Settings.model_validate({"demo": {"enabled": True, "jobs": 200}})
    async with Client(build_app(settings).server) as mcp:
        schemas = {t.name: t.output_schema for t in (await mcp.list_tools()).tools}
        failed = (await call(mcp, "find_jobs", {"status": ["ERROR"], "limit": 1}))["jobs"][0]
        for tool, args in [
            ("plan_summary", {}),
            ("get_job", {"job": failed["id"]}),
            ("get_job_log", {"job": failed["id"]}),
            ("job_dependencies", {"job": failed["id"]}),
            ("hold_job", {"job": failed["id"], "preview": True}),
        ]:
            jsonschema.validate(await call(mcp, tool, args), schemas[tool] or {})


def test_a_disabled_tool_is_not_built_yet_still_counts_as_offered() -> None:
    """Tools of toolsets the settings leave off are skipped before the SDK builds them (start-up),
    and still go through the check that every tool has a policy rule."""
    from mcp.server.mcpserver import MCPServer

    from resync_mcp.server.build import EnabledOnly

    server = MCPServer("t")
    only = EnabledOnly(server, frozenset({"kept"}))

    @only.tool()
    async def kept() -> int:
        return 1

    @only.tool(name="skipped")
    async def other() -> int:
        return 2

    assert [t.name for t in server._tool_manager.list_tools()] == ["kept"]
    assert only.offered == ["kept", "skipped"]
