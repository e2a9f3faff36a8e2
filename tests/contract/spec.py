"""The real HWA V2 spec as a test oracle: a validator and a document generator.

``hwa_v2_schemas.json`` transcribes the schemas of ``WA_API3_v2.json`` (HWA 10.2.8) that the
project reads, renders or sends, in a compact grammar described in the file itself. This module
validates payloads against them and generates spec-conformant documents, including objects the
simulator never produces, so the client can be proven to read anything a real engine may send.

The spec's ``minimum: 0, maximum: 0`` on integers is a generator artifact and is not
transcribed, so no bound is checked: that is deliberate (a stream limit of -1 is valid).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).with_name("hwa_v2_schemas.json")
# JSON Schema patterns are not anchored: the spec's id pattern is searched, as a validator would.
_UUID = re.compile(r"(\w{8,8}-)(\w{4,4}-){3,3}(\w{12,12})")
_DURATION = re.compile(r"^-?P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$")
PRIMITIVES = {"string", "integer", "number", "boolean", "object", "any", "date-time", "date", "local-time"}
PRIMITIVES |= {"duration", "uuid"}


@cache
def schemas() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(FIXTURE.read_text())["schemas"]
    return data


def parse_type(expr: str) -> tuple[str, set[str]]:
    """``'[ActionV2] ro'`` -> (``'[ActionV2]'``, {``'ro'``})."""
    base, *flags = expr.split()
    return base, set(flags)


# ----------------------------------------------------------------------------- validation
def validate(doc: Any, type_expr: str, *, strict: bool = False) -> list[str]:
    """Every way ``doc`` departs from ``type_expr`` (a schema name or a type of the grammar).

    ``strict`` also reports properties the spec does not define and writeOnly properties in a
    response: what a faithful stand-in must never send, since no real engine sends them.
    """
    errors: list[str] = []
    _check(doc, type_expr, "$", strict, errors)
    return errors


def _check(value: Any, expr: str, path: str, strict: bool, errors: list[str]) -> None:
    base, _ = parse_type(expr)
    if value is None:
        errors.append(f"{path}: null is not allowed (the spec declares no nullable property)")
        return
    if base.startswith("["):
        if not isinstance(value, list):
            errors.append(f"{path}: expected an array, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _check(item, base[1:-1], f"{path}[{i}]", strict, errors)
        return
    if base.startswith("{"):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected an object, got {type(value).__name__}")
            return
        for k, item in value.items():
            _check(item, base[1:-1], f"{path}.{k}", strict, errors)
        return
    if base in PRIMITIVES:
        problem = _primitive(value, base)
        if problem:
            errors.append(f"{path}: {problem}")
        return
    schema = schemas()[base]
    if "enum" in schema:
        if value not in schema["enum"]:
            errors.append(f"{path}: {value!r} is not one of {base} {schema['enum']}")
        return
    if not isinstance(value, dict):
        errors.append(f"{path}: expected a {base} object, got {type(value).__name__}")
        return
    if "oneOf" in schema:
        variant = schema["oneOf"].get(value.get("dependencyType"))
        if variant is None:
            errors.append(f"{path}: dependencyType {value.get('dependencyType')!r} selects no {base} variant")
            return
        base, schema = variant, schemas()[variant]
    props: dict[str, str] = schema["properties"]
    for name in schema.get("required", []):
        if name not in value:
            errors.append(f"{path}: required property {name!r} of {base} is missing")
    for name, item in value.items():
        if name not in props:
            if strict:
                errors.append(f"{path}.{name}: not a property of {base} in the spec")
            continue
        if strict and "wo" in parse_type(props[name])[1]:
            errors.append(f"{path}.{name}: writeOnly property of {base} sent in a response")
        _check(item, props[name], f"{path}.{name}", strict, errors)


def _primitive(value: Any, kind: str) -> str | None:
    if kind == "any":
        return None
    if kind == "boolean":
        return None if isinstance(value, bool) else f"expected a boolean, got {value!r}"
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else f"expected an integer, got {value!r}"
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else f"expected a number, got {value!r}"
    if kind == "object":
        return None if isinstance(value, dict) else f"expected an object, got {value!r}"
    if not isinstance(value, str):
        return f"expected a string ({kind}), got {value!r}"
    try:
        if kind == "date-time":
            # Instant carries an offset (Z); LocalDateTime has none: both are accepted.
            datetime.fromisoformat(value.replace("Z", "+00:00"))
            if "T" not in value:
                raise ValueError
        elif kind == "date":
            date.fromisoformat(value)
        elif kind == "local-time":
            time.fromisoformat(value[:15])
    except ValueError:
        return f"{value!r} is not a {kind}"
    if kind == "duration" and not _DURATION.match(value):
        return f"{value!r} is not an ISO-8601 duration"
    if kind == "uuid" and not _UUID.search(value):
        return f"{value!r} does not match the spec's id pattern"
    return None


# ----------------------------------------------------------------------------- generation
def example(type_expr: str, variant: int = 0, *, sparse: bool = False, depth: int = 0) -> Any:
    """A spec-conformant document for ``type_expr``.

    Full documents fill every property (enums cycle with ``variant``, arrays hold one item per
    oneOf variant); sparse ones hold only the required properties and ``id``. Recursion stops
    at depth 5, where only required properties are filled.
    """
    base, _ = parse_type(type_expr)
    if base.startswith("["):
        inner = base[1:-1]
        schema = schemas().get(inner, {})
        if "oneOf" in schema and not sparse:
            return [_variant_doc(inner, v, variant, depth + 1) for v in schema["oneOf"]]
        return [] if sparse else [example(inner, variant, sparse=sparse, depth=depth + 1)]
    if base.startswith("{"):
        return {} if sparse else {"k1": example(base[1:-1], variant, depth=depth + 1)}
    if base in PRIMITIVES:
        return _sample(base, variant, depth)
    schema = schemas()[base]
    if "enum" in schema:
        values: list[str] = schema["enum"]
        return values[variant % len(values)]
    if "oneOf" in schema:
        kinds = list(schema["oneOf"])
        return _variant_doc(base, kinds[variant % len(kinds)], variant, depth)
    return _object(schema, variant, sparse, depth)


def _variant_doc(name: str, kind: str, variant: int, depth: int) -> dict[str, Any]:
    doc = _object(schemas()[schemas()[name]["oneOf"][kind]], variant, False, depth)
    doc["dependencyType"] = kind
    return doc


def _object(schema: dict[str, Any], variant: int, sparse: bool, depth: int) -> dict[str, Any]:
    required = set(schema.get("required", []))
    keep = required | {"id"} if sparse or depth >= 5 else set(schema["properties"])
    return {
        name: example(expr, variant, sparse=sparse, depth=depth + 1)
        for name, expr in schema["properties"].items()
        if name in keep and "wo" not in parse_type(expr)[1]  # documents as an engine sends them
    }


def _sample(kind: str, variant: int, depth: int) -> Any:
    return {
        "string": f"text-{variant}-{depth}",
        "integer": 3 + variant,
        "number": 1.5 + variant,
        "boolean": variant % 2 == 0,
        "object": {"UNIX": {"taskString": "sleep 1", "isCommand": "true"}},
        "any": {"free": ["form", variant]},
        "date-time": f"2026-11-2{variant % 10}T06:15:0{depth % 10}Z",
        "date": f"2026-11-2{variant % 10}",
        "local-time": "06:15:00",
        "duration": f"PT{5 + variant}M",
        "uuid": f"6d19eaf1-c9da-3799-96ed-{depth:06d}{variant:06d}",
    }[kind]
