"""Diagnostic prompts, loaded from the Markdown files shipped in the package (``prompts/``).

Each file has front matter (name, title, description, arguments, required, ``arg.NAME``
descriptions) and a body with ``{argument}`` placeholders. Argument values are cleaned
(control characters dropped, length capped) before they are put into the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.prompts.base import Prompt, PromptArgument

from resync_mcp.knowledge.chunking import front_matter

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class PromptFile:
    name: str
    title: str
    description: str
    arguments: tuple[PromptArgument, ...]
    body: str

    def render(self, values: dict[str, Any]) -> str:
        clean = {a.name: _CONTROL.sub(" ", str(values.get(a.name) or ""))[:200] for a in self.arguments}
        for a in self.arguments:
            if not clean[a.name]:
                clean[a.name] = "(default)" if a.name == "engine" else "(not given)"
        return self.body.format_map(clean)


def load() -> list[PromptFile]:
    out = []
    folder = resources.files("resync_mcp") / "prompts"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".md"):
            continue
        meta, body = front_matter(entry.read_text(encoding="utf-8"))
        names = meta.get("arguments") or []
        required = meta.get("required") or []
        names = names if isinstance(names, list) else [names]
        args = tuple(
            PromptArgument(name=n, description=str(meta.get(f"arg.{n}") or n), required=n in required) for n in names
        )
        out.append(
            PromptFile(
                str(meta.get("name") or entry.name[:-3]),
                str(meta.get("title") or ""),
                str(meta.get("description") or ""),
                args,
                body.strip() + "\n",
            )
        )
    return out


def register(mcp: MCPServer) -> list[PromptFile]:
    files = load()
    for pf in files:

        def render(_pf: PromptFile = pf, **values: Any) -> str:
            return _pf.render(values)

        mcp.add_prompt(
            Prompt(name=pf.name, title=pf.title, description=pf.description, arguments=list(pf.arguments), fn=render)
        )
    return files
