"""Strict tool arguments with friendly errors.

A model's typo must never change what a call does: ``Preview: true`` dropped as unknown would
turn a preview into a write. Every tool's argument model therefore forbids unknown names (its
input schema says ``additionalProperties: false``), and a middleware checks each ``tools/call``
against that model before anything else runs: an unknown name, a missing or a wrong value is
answered with one sentence per problem, naming the closest known argument, and nothing is read
or written. A single value where a list is expected (``status: "ERROR"``) is taken as a list.
"""

from __future__ import annotations

import contextvars
import difflib
import types
import typing
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import ErrorDetails


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set, frozenset):
        return True
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return any(_is_list(a) for a in typing.get_args(annotation))
    return False


def strict_model(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` with unknown names forbidden and single values accepted for list arguments."""
    lists = {(f.alias or name) for name, f in model.model_fields.items() if _is_list(f.annotation)}

    def one_as_list(cls: type[BaseModel], data: Any) -> Any:
        if isinstance(data, dict):
            return {k: [v] if k in lists and isinstance(v, str | int | float | bool) else v for k, v in data.items()}
        return data

    namespace: dict[str, Any] = {
        "model_config": ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        "__module__": model.__module__,
    }
    if lists:  # a validator in Python runs on every call: only where there is a list to take
        namespace["_one_as_list"] = model_validator(mode="before")(classmethod(one_as_list))  # type: ignore[arg-type]
    return type(model.__name__, (model,), namespace)


# The arguments this request's check validated, for the SDK's own validation just after it.
_checked: contextvars.ContextVar[tuple[FuncMetadata, dict[str, Any], dict[str, Any]] | None] = contextvars.ContextVar(
    "resync_checked_arguments", default=None
)


class CheckedMetadata(FuncMetadata):
    """A tool's metadata whose validation reuses what the strict check just did with the same
    arguments (the SDK validates them again on its way to the tool: twice per call for nothing)."""

    def validate_arguments(self, arguments_to_validate: dict[str, Any]) -> dict[str, Any]:
        kept = _checked.get()
        if kept is not None and kept[0] is self and kept[1] == arguments_to_validate:
            _checked.set(None)  # used once
            return kept[2]
        return super().validate_arguments(arguments_to_validate)


def make_strict(mcp: MCPServer) -> None:
    """Make every registered tool's argument model strict, and its input schema say so."""
    for tool in mcp._tool_manager.list_tools():
        strict = strict_model(tool.fn_metadata.arg_model)
        tool.fn_metadata.arg_model = strict  # type: ignore[assignment]
        tool.fn_metadata.__class__ = CheckedMetadata  # no new fields: the same object, checked once
        tool.parameters = strict.model_json_schema(by_alias=True)


def _sentence(error: ErrorDetails, known: list[str], schema: dict[str, Any]) -> str:
    loc = [str(p) for p in error["loc"]]
    name = loc[0] if loc else "arguments"
    shown = repr(error.get("input"))[:60]
    props = schema.get("properties", {})
    if error["type"] == "extra_forbidden":
        near = difflib.get_close_matches(name.strip().lower(), [k.lower() for k in known], n=1, cutoff=0.6)
        hint = f"; did you mean '{next(k for k in known if k.lower() == near[0])}'?" if near else ""
        return f"unknown argument '{name[:60]}'{hint} (known: {', '.join(known)})"
    what = props.get(name, {}).get("description")
    where = "'" + ".".join(loc) + "'"
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == "missing":
        return f"{where} is required" + (f": {what}" if what else "")
    if kind in ("less_than_equal", "less_than", "greater_than_equal", "greater_than"):
        bound = next(iter(ctx.values()), None)
        word = {"less_than_equal": "at most", "less_than": "below", "greater_than_equal": "at least"}.get(kind, "above")
        return f"{where} must be {word} {bound} (got {shown})"
    if kind in ("string_too_long", "too_long"):
        return f"{where} is too long: at most {ctx.get('max_length')} (got {len(str(error.get('input')))})"
    if kind in ("string_too_short", "too_short"):
        return f"{where} is too short: at least {ctx.get('min_length')}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{where} must be a whole number (got {shown})"
    if kind in ("bool_type", "bool_parsing"):
        return f"{where} must be true or false (got {shown})"
    if kind in ("string_type",):
        return f"{where} must be text (got {shown})"
    if kind in ("list_type",):
        return f'{where} must be a list of values, e.g. ["ERROR"] (got {shown})'
    if kind in ("literal_error", "enum"):
        return f"{where} must be one of {ctx.get('expected')} (got {shown})"
    if kind == "string_pattern_mismatch":
        return f"{where} has characters that are not allowed (got {shown})"
    return f"{where} is not valid (got {shown})" + (f": {what}" if what else "")


def explain(exc: ValidationError, model: type[BaseModel], schema: dict[str, Any]) -> str:
    """One sentence per problem, never pydantic's own text."""
    known = sorted(f.alias or name for name, f in model.model_fields.items())
    parts = list(dict.fromkeys(_sentence(e, known, schema) for e in exc.errors()))
    return "Invalid arguments: " + "; ".join(parts) + ". Nothing was read or changed."


class StrictArguments:
    """Checks a ``tools/call``'s arguments before the tool (and the pipeline) runs."""

    def __init__(self) -> None:
        self.server: MCPServer | None = None

    def check(self, ctx: ServerRequestContext[Any, Any]) -> CallToolResult | None:
        """The error answer for a ``tools/call`` whose arguments do not fit, else None."""
        if self.server is None or not ctx.params:
            return None
        tool = self.server._tool_manager.get_tool(str(ctx.params.get("name")))
        arguments = ctx.params.get("arguments") or {}
        if tool is None or not isinstance(arguments, dict):
            return None
        try:
            validated = FuncMetadata.validate_arguments(tool.fn_metadata, arguments)
        except ValidationError as exc:
            text = explain(exc, tool.fn_metadata.arg_model, tool.parameters)
            return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        _checked.set((tool.fn_metadata, arguments, validated))  # the front middleware clears it after the call
        return None

    @staticmethod
    def clear() -> None:
        _checked.set(None)
