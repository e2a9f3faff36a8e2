"""Compact tool schemas: the tool list is context every conversation pays for.

pydantic's schemas repeat a ``title`` on every property, spell an optional value as
``anyOf: [X, null]`` with ``default: null``, and repeat each model's field descriptions in
every tool that returns it. Here, after registration, each schema is rewritten to say the
same with less:

- input: no titles; an optional argument is just its type (omitting it means "not given");
  the arguments every tool shares (``SHARED``) carry no description, because the server
  instructions explain them once;
- output: kept (clients validate structured content against it), but only the structure:
  types, enums, required names and formats, no titles, descriptions or defaults, and objects
  nested deeper than ``OUTPUT_DEPTH`` are just ``{"type": "object"}``. What the fields mean
  is in the tool description and the instructions.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

SHARED = frozenset({"job", "engine", "preview", "reason", "ticket", "idempotency_key", "confirmation_token", "cursor"})
OUTPUT_DEPTH = 1
_NULL = {"type": "null"}
_DROP_IN = frozenset({"title"})
_DROP_OUT = frozenset({"title", "description", "default", "examples"})


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return {**defs[ref.removeprefix("#/$defs/")], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _compact(node: dict[str, Any], defs: dict[str, Any], *, out: bool, depth: int) -> dict[str, Any]:
    node = _resolve(node, defs)
    drop = _DROP_OUT if out else _DROP_IN
    any_of = node.get("anyOf")
    if isinstance(any_of, list) and len(any_of) == 2 and _NULL in any_of:
        inner = _compact(next(a for a in any_of if a != _NULL), defs, out=out, depth=depth)
        rest = {k: v for k, v in node.items() if k != "anyOf" and k not in drop}
        if not out and rest.get("default", 0) is None:
            del rest["default"]  # omitting an optional argument is how a model says "not given"
            return {**inner, **rest}
        kind = inner.get("type")
        if isinstance(kind, str):
            inner["type"] = [kind, "null"]
            return {**inner, **rest}
        return {"anyOf": [inner, _NULL], **rest}
    result: dict[str, Any] = {}
    is_object = node.get("type") == "object" or "properties" in node
    if out and is_object and depth >= OUTPUT_DEPTH:
        return {"type": "object"}
    for key, value in node.items():
        if key in drop or key == "$defs" or (out and depth > 0 and key == "required"):
            continue
        if key == "properties":
            result[key] = {name: _compact(sub, defs, out=out, depth=depth + 1) for name, sub in value.items()}
        elif key == "items" and isinstance(value, dict):
            result[key] = _compact(value, defs, out=out, depth=depth)
        elif key == "additionalProperties" and isinstance(value, dict):
            result[key] = _compact(value, defs, out=out, depth=depth + 1)
        elif key in ("anyOf", "oneOf", "allOf") and isinstance(value, list):
            result[key] = [_compact(v, defs, out=out, depth=depth) for v in value]
        else:
            result[key] = value
    return result


def compact_input(schema: dict[str, Any]) -> dict[str, Any]:
    result = _compact(schema, schema.get("$defs", {}), out=False, depth=0)
    for name in SHARED & result.get("properties", {}).keys():
        for key in ("description", "maxLength", "minLength"):  # the server still enforces the lengths
            result["properties"][name].pop(key, None)
    return result


def compact_output(schema: dict[str, Any]) -> dict[str, Any]:
    result = _compact(schema, schema.get("$defs", {}), out=True, depth=0)
    required = set(result.get("required", ()))
    if "properties" in result:  # the fields every result has; the optional ones appear when they apply
        result["properties"] = {k: v for k, v in result["properties"].items() if k in required}
    return result


_DEFAULT_HINTS = {"read_only_hint": False, "destructive_hint": True, "idempotent_hint": False, "open_world_hint": True}


def compact_annotations(a: ToolAnnotations | None) -> ToolAnnotations | None:
    """Only the hints that differ from the spec's defaults (readOnly false, destructive true,
    idempotent false, openWorld true); the destructive and idempotent hints of a read-only tool
    mean nothing under the spec and are left out."""
    if a is None:
        return None
    hints = {k: getattr(a, k) for k in _DEFAULT_HINTS if getattr(a, k) is not None}
    if hints.get("read_only_hint"):
        hints.pop("destructive_hint", None)
        hints.pop("idempotent_hint", None)
    kept = {k: v for k, v in hints.items() if v != _DEFAULT_HINTS[k]}
    return a.model_copy(update={**dict.fromkeys(_DEFAULT_HINTS), **kept}) if kept or a.title else None


def compact_tools(mcp: MCPServer) -> None:
    """Rewrite every registered tool's published schemas (validation of arguments and results
    still uses the full pydantic models)."""
    for tool in mcp._tool_manager.list_tools():
        tool.annotations = compact_annotations(tool.annotations)
        tool.description = " ".join((tool.description or "").split())  # a docstring's indentation is noise
        tool.parameters = compact_input(tool.parameters)
        if tool.fn_metadata.output_schema is not None:
            tool.fn_metadata.output_schema = compact_output(tool.fn_metadata.output_schema)
