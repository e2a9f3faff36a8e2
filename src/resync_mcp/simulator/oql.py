"""How the simulated engine applies OQL (parsed by tws/oql.py) and ``plan_filter`` selectors.

Field policy (``Simulator.oql_fields``): in "paths" mode a filter may use any field path the
object type's getters know, which follow the V2 JSON paths, so ``key.name`` (a string in the
spec, not an object) is refused as the lab saw; in "confirmed" mode only the fields seen
working on a real engine or in the spec's examples are accepted. ORDER BY also takes
``key.name``, which the lab saw accepted. A refused field is an :class:`OqlError`, which the
routes answer with 400 ``OQL_FILTER_SYNTAX_ERROR``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from resync_mcp.tws.oql import (
    CONFIRMED_ORDER,
    Bool,
    Getter,
    Node,
    OqlError,
    Term,
    confirmed_fields,
    parse,
    predicate,
    sort_key,
)

__all__ = ["ANY", "Getter", "Index", "OqlError", "plan_filter", "select_objects"]


class Index:
    """Where each string value of a field occurs (positions in ``objs``), built on a field's
    first use in an equality or IN filter; the owner drops it when the plan changes. A filter
    then scans only the candidates of one conjunct instead of every object, and still applies
    its whole predicate to them, so the answer is the plain scan's."""

    def __init__(self, objs: Sequence[Any], fields: Mapping[str, Getter], static: frozenset[str] = frozenset()) -> None:
        self.objs, self.fields, self.static = objs, fields, static
        self._tables: dict[str, dict[str, int | list[int]]] = {}
        self.version: object = None

    def retarget(self, fields: Mapping[str, Getter], version: object) -> Index:
        """The plan moved on (time, not shape): new getters, and the tables of the fields that
        change with time dropped; those of ``static`` fields (names, streams, dependencies) kept."""
        if version != self.version:
            self.fields, self.version = fields, version
            self._tables = {f: t for f, t in self._tables.items() if f in self.static}
        return self

    def positions(self, field: str, values: Iterable[str]) -> list[int]:
        table = self._tables.get(field)
        if table is None:
            table = {}  # a value found once maps to its position, else to the list of them (memory)
            get = self.fields[field]
            for i, obj in enumerate(self.objs):
                got = get(obj)
                for v in got if isinstance(got, list) else (got,):
                    if isinstance(v, str):
                        key = v.upper()
                        have = table.get(key)
                        if have is None:
                            table[key] = i
                        elif isinstance(have, int):
                            if have != i:
                                table[key] = [have, i]
                        elif have[-1] != i:
                            have.append(i)
            self._tables[field] = table
        found = [_as_positions(table.get(v.upper())) for v in values]
        return found[0] if len(found) == 1 else sorted({i for bucket in found for i in bucket})


def _as_positions(bucket: int | list[int] | None) -> list[int]:
    return [] if bucket is None else [bucket] if isinstance(bucket, int) else bucket


def _indexed_term(node: Node, allowed: set[str]) -> Term | None:
    """A conjunct ``field = 'text'`` or ``field IN ('text', ...)`` the index can answer."""
    for item in node.items if isinstance(node, Bool) and node.op == "AND" else (node,):
        if not isinstance(item, Term) or item.field not in allowed:
            continue
        values = item.value if item.op == "IN" else (item.value,) if item.op == "=" else ()
        if values and all(isinstance(v, str) for v in values):
            return item
    return None


def select_objects(
    objs: Iterable[Any],
    text: str | None,
    fields: Mapping[str, Getter],
    kind: str,
    mode: str,
    keep: Callable[[Any], bool] | None,
    index: Index | None = None,
) -> list[Any]:
    """The objects ``text`` selects, in its order (``index``: over the same ``objs`` and fields).

    Raises:
        OqlError: a syntax error, or a field the engine does not accept for ``kind``.
    """
    query = parse(text)
    allowed = set(fields) if mode == "paths" else set(fields) & confirmed_fields(kind)
    orderable = allowed | CONFIRMED_ORDER

    def filter_field(name: str) -> Getter:
        if name not in allowed:
            raise OqlError(f"unknown field {name!r}")
        return fields[name]

    def order_field(name: str) -> Getter:
        if name not in orderable:
            raise OqlError(f"unknown field {name!r}")
        return fields.get(name) or fields["name"]  # key.name orders by the name part of the key

    pred = predicate(query.where, filter_field) if query.where else None
    key = sort_key(query.order, order_field) if query.order else None
    term = _indexed_term(query.where, allowed) if index is not None and query.where is not None else None
    if index is not None and term is not None:
        values = term.value if term.op == "IN" else (term.value,)
        objs = [index.objs[i] for i in index.positions(term.field, values)]
        if term is query.where:
            pred = None  # the index answered the whole filter exactly
    if keep is None and pred is None:
        out = list(objs)
    else:
        out = [o for o in objs if (keep is None or keep(o)) and (pred is None or pred(o))]
    if key is not None:
        out.sort(key=key)
    return out


def _like(pattern: str) -> re.Pattern[str]:
    parts = (re.escape(p) for p in pattern.split("@"))
    return re.compile("^" + ".*".join(parts) + "$", re.IGNORECASE | re.DOTALL)


# --------------------------------------------------------------------- plan_filter
def ANY(ws: str, folder: str, js: str, job: str) -> bool:  # a sentinel, compared by identity
    """The predicate of a selector that selects everything."""
    return True


def plan_filter(text: str | None, kind: str) -> Callable[[str, str, str, str], bool]:
    """Compile a ``plan_filter`` selector: ``/folder/WS#/folder/JOBSTREAM.JOB`` with ``@``.

    Returns a predicate over (workstation name, job-stream folder, job-stream name, job name).
    Missing trailing parts match everything (``/MDMDA#/`` selects every job on MDMDA).

    Raises:
        OqlError: when the selector is malformed.
    """
    if text is None or not text.strip():
        return ANY
    text = text.strip()
    if len(text) > 1000 or ("#" not in text and kind != "prompt"):
        raise OqlError(f"plan_filter {text[:60]!r} is not of the form /folder/WS#/folder/JOBSTREAM.JOB")
    ws_part, _, rest = text.partition("#")
    ws_name = ws_part.rstrip("/").rsplit("/", 1)[-1] or "@"
    rest = rest or "/"
    js_folder, _, tail = rest.rpartition("/")
    js_folder = (js_folder + "/") if js_folder else "/"
    js_name, _, job_name = tail.partition(".")
    ws_rx, js_rx, job_rx = _like(ws_name), _like(js_name or "@"), _like(job_name or "@")
    # "/WS#/" (nothing after the folder slash) and "/@/" mean every folder.
    any_folder = not tail or js_folder == "/@/"
    if any_folder and ws_name == "@" and (js_name or "@") == "@" and (job_name or "@") == "@":
        return ANY  # the default selector: callers skip the per-object test
    folder_rx = _like("@" if any_folder else js_folder)

    def pred(ws: str, folder: str, js: str, job: str) -> bool:
        return bool(ws_rx.match(ws) and folder_rx.match(folder) and js_rx.match(js) and job_rx.match(job))

    return pred
