"""The subset of HWA's Orchestration Query Language both sides speak: a parser to a small tree,
evaluation over any object, and re-rendering. Pure; shared by the client and the simulator.

Grammar (case-insensitive keywords)::

    query    := [expr] [ORDER BY field [ASC|DESC] {, field [ASC|DESC]}]
    expr     := term {OR term}
    term     := factor {AND factor}
    factor   := '(' expr ')' | field op value | field IN '[' value {, value} ']'
    op       := = | != | < | > | <= | >= | LIKE
    value    := 'string' | number | true | false

``LIKE`` uses ``@`` as the wildcard. A field path that reaches a list (``jobruns.returnCode``)
matches when any element matches.

Which fields a real engine accepts is only partly known (hwa-rest-api.md §2.4): ``name`` in a
filter and ``key.name`` in ORDER BY worked in the lab, ``key.name`` in a filter was refused
with 400 OQL_FILTER_SYNTAX_ERROR, and the spec's examples use ``id``, ``folder``,
``jobruns.compositeStatus.status`` (jobs), ``commonStatus`` (job streams) and ``activeStates``
(workstations). Those are :data:`CONFIRMED`; the client falls back to them when an engine
refuses anything else.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Getter = Callable[[Any], Any]

CONFIRMED: dict[str, frozenset[str]] = {
    "job": frozenset({"id", "name", "folder", "jobruns.compositeStatus.status"}),
    "jobstream": frozenset({"id", "name", "folder", "commonStatus"}),
    "workstation": frozenset({"id", "name", "folder", "activeStates"}),
}
CONFIRMED_DEFAULT = frozenset({"id", "name", "folder"})
CONFIRMED_ORDER = frozenset({"name", "key.name"})
# The other fields our queries use: JSON paths of the V2 objects (tests/contract checks each
# against the spec). Only these may be applied locally when an engine refuses them; any other
# refused field is the caller's error and stays one.
LOCAL_PATHS: dict[str, frozenset[str]] = {
    "job": frozenset(
        {
            "jobStreamName",
            "jobStreamId",
            "workstation",
            "schedTime",
            "priority",
            "lastRunCommonStatus",
            "lastRunCompositeStatus.status",
            "jobOptions.critical",
            "jobStatusFlags.jobLate",
            "dependencies.jobId",
            "dependencies.jobStreamId",
        }
    ),
    "jobstream": frozenset({"workstation", "schedTime", "priority", "compositeStatus.status"}),
    "workstation": frozenset(),
}


class OqlError(ValueError):
    pass


@dataclass(frozen=True)
class Term:
    field: str
    op: str  # = != < > <= >= LIKE IN
    value: Any  # a tuple for IN


@dataclass(frozen=True)
class Bool:
    op: str  # AND | OR
    items: tuple[Node, ...]


Node = Term | Bool


@dataclass(frozen=True)
class Query:
    where: Node | None
    order: tuple[tuple[str, bool], ...] = ()  # (field, descending)

    def fields(self) -> set[str]:
        return _fields(self.where) if self.where else set()

    def text(self) -> str | None:
        parts = [render(self.where)] if self.where else []
        if self.order:
            parts.append("ORDER BY " + ", ".join(f"{f} {'DESC' if d else 'ASC'}" for f, d in self.order))
        return " ".join(parts) or None


def confirmed_fields(kind: str) -> frozenset[str]:
    return CONFIRMED.get(kind, CONFIRMED_DEFAULT)


def local_paths(kind: str) -> frozenset[str]:
    return LOCAL_PATHS.get(kind, frozenset())


# ------------------------------------------------------------------------------- parsing
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|=|<|>)"
    r"|(?P<punct>[()\[\],])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)


def parse(text: str | None) -> Query:
    """The query ``text`` as a tree. Raises OqlError on a syntax error."""
    if text is None or not text.strip():
        return Query(None)
    if len(text) > 4000:
        raise OqlError("filter longer than 4000 characters")
    return _Parser(text).query()


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise OqlError(f"unexpected character at position {pos}: {text[pos : pos + 10]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> str | None:
        if self.i >= len(self.toks):
            return None
        kind, val = self.toks[self.i]
        return val.upper() if kind == "word" else val

    def take(self) -> tuple[str, str]:
        if self.i >= len(self.toks):
            raise OqlError("unexpected end of filter")
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, val: str) -> None:
        kind, got = self.take()
        if (got.upper() if kind == "word" else got) != val:
            raise OqlError(f"expected {val!r}, found {got!r}")

    def field(self) -> str:
        kind, name = self.take()
        if kind != "word":
            raise OqlError(f"expected a field name, found {name!r}")
        return name

    def value(self) -> Any:
        kind, raw = self.take()
        if kind == "str":
            return raw[1:-1].replace("''", "'")
        if kind == "num":
            return float(raw) if "." in raw else int(raw)
        if kind == "word" and raw.upper() in ("TRUE", "FALSE"):
            return raw.upper() == "TRUE"
        raise OqlError(f"expected a value, found {raw!r}")

    def query(self) -> Query:
        where = self.expr() if self.peek() not in (None, "ORDER") else None
        order: list[tuple[str, bool]] = []
        if self.peek() == "ORDER":
            self.take()
            self.expect("BY")
            while True:
                name = self.field()
                desc = self.take()[1].upper() == "DESC" if self.peek() in ("ASC", "DESC") else False
                order.append((name, desc))
                if self.peek() != ",":
                    break
                self.take()
        if self.i != len(self.toks):
            raise OqlError(f"unexpected {self.toks[self.i][1]!r}")
        return Query(where, tuple(order))

    def expr(self) -> Node:
        items = [self.term()]
        while self.peek() == "OR":
            self.take()
            items.append(self.term())
        return items[0] if len(items) == 1 else Bool("OR", tuple(items))

    def term(self) -> Node:
        items = [self.factor()]
        while self.peek() == "AND":
            self.take()
            items.append(self.factor())
        return items[0] if len(items) == 1 else Bool("AND", tuple(items))

    def factor(self) -> Node:
        if self.peek() == "(":
            self.take()
            inner = self.expr()
            self.expect(")")
            return inner
        name = self.field()
        kind, op = self.take()
        op = op.upper()
        if op == "IN":
            self.expect("[")
            values = [self.value()]
            while self.peek() == ",":
                self.take()
                values.append(self.value())
            self.expect("]")
            return Term(name, "IN", tuple(values))
        if op == "LIKE":
            pattern = self.value()
            if not isinstance(pattern, str):
                raise OqlError("LIKE needs a quoted string")
            return Term(name, "LIKE", pattern)
        if kind != "op":
            raise OqlError(f"expected an operator, found {op!r}")
        return Term(name, op, self.value())


# ----------------------------------------------------------------------------- the tree
def _fields(node: Node) -> set[str]:
    if isinstance(node, Term):
        return {node.field}
    return set().union(*(_fields(i) for i in node.items))


def _lit(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def render(node: Node) -> str:
    if isinstance(node, Term):
        if node.op == "IN":
            return f"{node.field} IN [{', '.join(_lit(v) for v in node.value)}]"
        return f"{node.field} {node.op} {_lit(node.value)}"
    inner = f" {node.op} ".join(render(i) if isinstance(i, Term) else f"({render(i)})" for i in node.items)
    return inner


def split_and(node: Node | None, keep: Callable[[Node], bool]) -> tuple[Node | None, Node | None]:
    """Split a conjunction into the conjuncts ``keep`` accepts and the rest (either may be None)."""
    if node is None:
        return None, None
    items = node.items if isinstance(node, Bool) and node.op == "AND" else (node,)
    kept = tuple(i for i in items if keep(i))
    rest = tuple(i for i in items if not keep(i))

    def join(parts: tuple[Node, ...]) -> Node | None:
        return None if not parts else parts[0] if len(parts) == 1 else Bool("AND", parts)

    return join(kept), join(rest)


# ------------------------------------------------------------------------------ evaluation
def _like(pattern: str) -> re.Pattern[str]:
    parts = (re.escape(p) for p in pattern.split("@"))
    return re.compile("^" + ".*".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _norm(v: Any) -> Any:
    return v.upper() if isinstance(v, str) else v


def predicate(node: Node, getter: Callable[[str], Getter]) -> Callable[[Any], bool]:
    """``node`` compiled over objects; ``getter(field)`` reads one field (and may raise OqlError)."""
    if isinstance(node, Bool):
        parts = [predicate(i, getter) for i in node.items]
        if node.op == "AND":
            return lambda o: all(p(o) for p in parts)
        return lambda o: any(p(o) for p in parts)
    get = getter(node.field)
    if node.op == "IN":
        wanted = {_norm(v) for v in node.value}
        return lambda o: any(_norm(v) in wanted for v in _as_list(get(o)))
    if node.op == "LIKE":
        rx = _like(node.value)
        return lambda o: any(isinstance(v, str) and rx.match(v) for v in _as_list(get(o)))
    return _compare(get, node.op, node.value)


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


def _compare(get: Getter, op: str, value: Any) -> Callable[[Any], bool]:
    """Strings compare case-insensitively, numbers and booleans as they are; anything else (or
    a missing value) matches only ``!=``. What can be worked out once is, outside the loop."""
    numeric = (int, float)
    cmp: Callable[[Any, Any], Any] = _OPS.get(op, operator.ge)
    upper = value.upper() if isinstance(value, str) else None
    plain = isinstance(value, numeric)  # bool is an int
    mismatch = op == "!="

    def ok(v: Any) -> bool:
        if v is None:
            return mismatch
        if upper is not None and isinstance(v, str):
            return bool(cmp(v.upper(), upper))
        if isinstance(value, bool) or isinstance(v, bool) or (plain and isinstance(v, numeric)):
            return bool(cmp(v, value))
        return mismatch

    def one(o: Any) -> bool:
        v = get(o)
        if isinstance(v, list):
            return all(ok(x) for x in v) if mismatch else any(ok(x) for x in v)
        return ok(v)

    return one


def sort_key(order: tuple[tuple[str, bool], ...], getter: Callable[[str], Getter]) -> Callable[[Any], tuple[Any, ...]]:
    """A key that sorts None last and honours DESC per field."""
    gets = [(getter(f), desc) for f, desc in order]

    def key(obj: Any) -> tuple[Any, ...]:
        parts: list[Any] = []
        for get, desc in gets:
            v = get(obj)
            v = v[-1] if isinstance(v, list) and v else (None if isinstance(v, list) else v)
            if isinstance(v, str):
                v = v.upper()
            if v is None:
                parts.append((1, 0))
            elif desc:
                parts.append((0, _Desc(v)))
            else:
                parts.append((0, v))
        return tuple(parts)

    return key


class _Desc:
    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: _Desc) -> bool:
        return bool(self.v > other.v)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and bool(self.v == other.v)

    def __hash__(self) -> int:
        return hash(self.v)


def path_getter(path: str) -> Getter:
    """A dotted JSON path read from a payload dict; lists along the way are flattened."""
    steps = path.split(".")

    def get(doc: Any) -> Any:
        values = [doc]
        for step in steps:
            nxt: list[Any] = []
            for v in values:
                item = v.get(step) if isinstance(v, dict) else None
                nxt.extend(item if isinstance(item, list) else [] if item is None else [item])
            values = nxt
        return values if len(values) != 1 else values[0]

    return get
