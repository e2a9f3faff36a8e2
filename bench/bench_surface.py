"""The tool list's size on the wire, per toolset, with the largest tools: what every
conversation pays for before its first question.

python bench/bench_surface.py
"""

from __future__ import annotations

import json

import anyio
from mcp import Client

from resync_mcp.app import build_app
from resync_mcp.config import Settings


async def listing(toolsets: list[str]) -> list[dict[str, object]]:
    settings = Settings.model_validate({"demo": {"enabled": True}, "security": {"toolsets": toolsets}})
    async with Client(build_app(settings).server) as mcp:
        result = await mcp.list_tools()
    return [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in result.tools]


def size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


async def main() -> None:
    for toolsets in (["read"], ["read", "operate"], ["read", "operate", "admin"]):
        tools = await listing(toolsets)
        total = size({"tools": tools})
        print(f"{'+'.join(toolsets):20} {len(tools):2} tools {total:7,} bytes (~{total // 4:,} tokens)")
    print("largest tools (bytes: whole / input schema / output schema / description):")
    for t in sorted(tools, key=size, reverse=True)[:5]:
        parts = (size(t), size(t.get("inputSchema")), size(t.get("outputSchema", {})), len(str(t.get("description"))))
        print(f"  {t['name']:26} {parts[0]:5} / {parts[1]:5} / {parts[2]:5} / {parts[3]:4}")


if __name__ == "__main__":
    anyio.run(main)
