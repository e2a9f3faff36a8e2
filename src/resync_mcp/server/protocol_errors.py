"""Protocol errors as the spec has them, in both eras: a prompt that does not exist, or that is
called without its required arguments, is invalid params (-32602), not an internal error; so is
completion for a prompt that does not exist. (The SDK answers -32603 or 0 for these; resources
already answer -32602 through its ResourceNotFoundError.)"""

from __future__ import annotations

from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS


class PromptChecks:
    def __init__(self) -> None:
        self.server: MCPServer | None = None

    def _known(self, name: str) -> Any:
        assert self.server is not None
        prompt = self.server._prompt_manager.get_prompt(name)
        if prompt is None:
            known = ", ".join(sorted(p.name for p in self.server._prompt_manager.list_prompts()))
            raise MCPError(INVALID_PARAMS, f"Unknown prompt: {name!r}. Known prompts: {known}.", {"name": name})
        return prompt

    def check(self, ctx: ServerRequestContext[Any, Any]) -> None:
        """Raise invalid params for a prompt that does not exist or lacks a required argument."""
        if self.server is None or not isinstance(ctx.params, dict):
            return
        if ctx.method == "prompts/get":
            prompt = self._known(str(ctx.params.get("name")))
            given = ctx.params.get("arguments") or {}
            missing = [a.name for a in prompt.arguments or [] if a.required and a.name not in given]
            if missing:
                raise MCPError(
                    INVALID_PARAMS,
                    f"Prompt {prompt.name!r} needs argument(s): {', '.join(missing)}.",
                    {"missing": missing},
                )
        elif ctx.method == "completion/complete":
            ref = ctx.params.get("ref") or {}
            if isinstance(ref, dict) and ref.get("type") == "ref/prompt":
                self._known(str(ref.get("name")))
