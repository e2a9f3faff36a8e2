"""When an engine refuses an OQL filter field, answer the query anyway: send only the fields
known to work on real engines (tws/oql.py ``CONFIRMED``), and apply the rest here.

Which filter fields a real engine accepts is only partly known. Our queries use JSON paths of
the V2 objects (``jobStreamName``, ``lastRunCommonStatus`` ...), which is what the lab suggests
the engine filters on, but if an engine answers 400 OQL_FILTER_SYNTAX_ERROR to one of them the
client must not fail an operator's question. The fallback reads the narrower query's pages, at
most :data:`SCAN_CAP` objects, filters and sorts them locally, and says so in the page's note.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from resync_mcp.errors import HwaError
from resync_mcp.tws import oql
from resync_mcp.tws.models import HwaModel, Page

if TYPE_CHECKING:
    from resync_mcp.tws.client import HwaClient

SCAN_CAP = 20_000  # objects read at most to answer one refused query
SCAN_PAGE = 1_000


def _selector(rest: oql.Node | None) -> str | None:
    """A ``plan_filter`` (its form confirmed in the lab) for a refused ``jobStreamName`` term of
    the conjunction, so the narrower query reads only that job stream's jobs. (A ``workstation``
    term cannot be moved: the selector's ``WS#`` is the job stream's workstation, not the job's.)"""
    items = rest.items if isinstance(rest, oql.Bool) and rest.op == "AND" else (rest,) if rest else ()
    for item in items:
        if isinstance(item, oql.Term) and item.field == "jobStreamName" and item.op in ("=", "LIKE"):
            value = str(item.value)
            if value and all(c.isalnum() or c in "_-@" for c in value):
                return f"/@/@#/@/{value}.@"
    return None


def needs_fallback(kind: str, text: str | None) -> bool:
    """Whether ``text`` uses a field or an ORDER BY an engine may not accept for ``kind``, all of
    them fields the client knows how to apply itself (anything else stays the engine's verdict)."""
    if not text:
        return False
    try:
        query = oql.parse(text)
    except oql.OqlError:
        return False
    allowed, local = oql.confirmed_fields(kind), oql.local_paths(kind)
    order = {f for f, _ in query.order}
    if not (query.fields() <= allowed | local and order <= allowed | oql.CONFIRMED_ORDER | local):
        return False
    return not (query.fields() <= allowed and order <= allowed | oql.CONFIRMED_ORDER)


async def page_locally(
    client: HwaClient,
    model: type[HwaModel],
    path: str,
    what: str,
    *,
    kind: str,
    text: str,
    plan_filter: str | None,
    limit: int,
    offset: int,
    scope: str | None,
    fresh: bool,
) -> Page[Any]:
    """The page ``text`` would select, computed from the confirmed part of the query."""
    query = oql.parse(text)
    allowed = oql.confirmed_fields(kind)
    sent, rest = oql.split_and(query.where, lambda node: oql.Query(node).fields() <= allowed)
    order_sent = all(f in allowed | oql.CONFIRMED_ORDER for f, _ in query.order)
    narrow = oql.Query(sent, query.order if order_sent else ())
    local = oql.predicate(rest, oql.path_getter) if rest is not None else None
    if kind == "job" and plan_filter is None:
        plan_filter = _selector(rest)  # the refused workstation / job stream terms, said another way
    rest_fields = oql.Query(rest).fields()
    headers = {"Include-Count": "false"}
    if scope or any(f.startswith("dependencies") for f in rest_fields):
        headers["scope"] = "WHOLE" if any(f.startswith("dependencies") for f in rest_fields) else str(scope)
    matched: list[dict[str, Any]] = []
    scanned, complete = 0, False
    while scanned < SCAN_CAP:
        fetched = await client._get(
            path,
            what,
            kind="query",
            params={"oql": narrow.text(), "plan_filter": plan_filter, "limit": SCAN_PAGE, "offset": scanned},
            headers=headers,
            fresh=fresh,
            remember=False,
        )
        try:
            body = json.loads(fetched.content)
            docs = [d for d in body.get("results") or [] if isinstance(d, dict)]
        except (ValueError, AttributeError) as exc:
            unreadable = f"HWA engine '{client.engine}' sent a response that could not be read while {what}."
            raise HwaError(unreadable) from exc
        matched += [d for d in docs if local is None or local(d)]
        scanned += len(docs)
        if not docs or not body.get("next"):
            complete = True
            break
    if not order_sent:
        matched.sort(key=oql.sort_key(query.order, oql.path_getter))
    window = matched[offset : offset + limit]
    cut = "" if complete else f" over the first {scanned} objects only (more exist; narrow the filter)"
    refused = ", ".join(sorted(rest_fields | ({f for f, _ in query.order} if not order_sent else set())))
    note = f"engine '{client.engine}' refused filtering on {refused}; applied here{cut}"
    page: Page[Any] = Page[model](  # type: ignore[valid-type]
        results=[model.model_validate(d) for d in window],
        count=len(matched) if complete else None,
        local_note=note,
    )
    if not complete or offset + limit < len(matched):
        page.next = "local"
    return page
