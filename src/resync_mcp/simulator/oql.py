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
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from resync_mcp.tws.oql import CONFIRMED_ORDER, Getter, OqlError, confirmed_fields, parse, predicate, sort_key

__all__ = ["Getter", "OqlError", "plan_filter", "select_objects"]


def select_objects(
    objs: Iterable[Any],
    text: str | None,
    fields: Mapping[str, Getter],
    kind: str,
    mode: str,
    keep: Callable[[Any], bool],
) -> list[Any]:
    """The objects ``text`` selects, in its order.

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
    out = [o for o in objs if keep(o) and (pred is None or pred(o))]
    if key is not None:
        out.sort(key=key)
    return out


def _like(pattern: str) -> re.Pattern[str]:
    parts = (re.escape(p) for p in pattern.split("@"))
    return re.compile("^" + ".*".join(parts) + "$", re.IGNORECASE | re.DOTALL)


# --------------------------------------------------------------------- plan_filter
def plan_filter(text: str | None, kind: str) -> Callable[[str, str, str, str], bool]:
    """Compile a ``plan_filter`` selector: ``/folder/WS#/folder/JOBSTREAM.JOB`` with ``@``.

    Returns a predicate over (workstation name, job-stream folder, job-stream name, job name).
    Missing trailing parts match everything (``/MDMDA#/`` selects every job on MDMDA).

    Raises:
        OqlError: when the selector is malformed.
    """
    if text is None or not text.strip():
        return lambda ws, folder, js, job: True
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
    folder_rx = _like("@" if any_folder else js_folder)

    def pred(ws: str, folder: str, js: str, job: str) -> bool:
        return bool(ws_rx.match(ws) and folder_rx.match(folder) and js_rx.match(js) and job_rx.match(job))

    return pred
