"""The subset of HWA's Orchestration Query Language the simulator understands.

Grammar (case-insensitive keywords)::

    query    := [expr] [ORDER BY field [ASC|DESC] {, field [ASC|DESC]}]
    expr     := term {OR term}
    term     := factor {AND factor}
    factor   := '(' expr ')' | field op value | field IN '[' value {, value} ']'
    op       := = | != | < | > | <= | >= | LIKE
    value    := 'string' | number | true | false

``LIKE`` uses ``@`` as the wildcard. A field path that holds a list (``jobruns.returnCode``)
matches when any element matches. Any syntax error, or a field the object type does not
have, is an :class:`OqlError`, which the routes answer with 400 ``OQL_FILTER_SYNTAX_ERROR``
(the real engine answers an unknown path such as ``key.name`` the same way).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Getter = Callable[[Any], Any]


class OqlError(ValueError):
    pass


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|=|<|>)"
    r"|(?P<punct>[()\[\],])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)


@dataclass(frozen=True)
class Query:
    predicate: Callable[[Any], bool] | None
    order: list[tuple[Getter, bool]]  # (getter, descending)


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


def _like(pattern: str) -> re.Pattern[str]:
    parts = (re.escape(p) for p in pattern.split("@"))
    return re.compile("^" + ".*".join(parts) + "$", re.IGNORECASE | re.DOTALL)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


class _Parser:
    def __init__(self, text: str, fields: Mapping[str, Getter]) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.fields = fields

    def peek(self, upper: bool = True) -> str | None:
        if self.i >= len(self.toks):
            return None
        kind, val = self.toks[self.i]
        return val.upper() if upper and kind == "word" else val

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

    def field(self) -> Getter:
        kind, name = self.take()
        if kind != "word":
            raise OqlError(f"expected a field name, found {name!r}")
        getter = self.fields.get(name)
        if getter is None:
            raise OqlError(f"unknown field {name!r}")
        return getter

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
        pred = None
        if self.peek() not in (None, "ORDER"):
            pred = self.expr()
        order: list[tuple[Getter, bool]] = []
        if self.peek() == "ORDER":
            self.take()
            self.expect("BY")
            while True:
                getter = self.field()
                desc = False
                if self.peek() in ("ASC", "DESC"):
                    desc = self.take()[1].upper() == "DESC"
                order.append((getter, desc))
                if self.peek() != ",":
                    break
                self.take()
        if self.i != len(self.toks):
            raise OqlError(f"unexpected {self.toks[self.i][1]!r}")
        return Query(pred, order)

    def expr(self) -> Callable[[Any], bool]:
        terms = [self.term()]
        while self.peek() == "OR":
            self.take()
            terms.append(self.term())
        if len(terms) == 1:
            return terms[0]
        return lambda o: any(t(o) for t in terms)

    def term(self) -> Callable[[Any], bool]:
        factors = [self.factor()]
        while self.peek() == "AND":
            self.take()
            factors.append(self.factor())
        if len(factors) == 1:
            return factors[0]
        return lambda o: all(f(o) for f in factors)

    def factor(self) -> Callable[[Any], bool]:
        if self.peek() == "(":
            self.take()
            inner = self.expr()
            self.expect(")")
            return inner
        getter = self.field()
        kind, op = self.take()
        op = op.upper()
        if op == "IN":
            self.expect("[")
            values = [self.value()]
            while self.peek() == ",":
                self.take()
                values.append(self.value())
            self.expect("]")
            wanted = {_norm(v) for v in values}
            return lambda o: any(_norm(v) in wanted for v in _as_list(getter(o)))
        if op == "LIKE":
            pattern = self.value()
            if not isinstance(pattern, str):
                raise OqlError("LIKE needs a quoted string")
            rx = _like(pattern)
            return lambda o: any(isinstance(v, str) and rx.match(v) for v in _as_list(getter(o)))
        if kind != "op":
            raise OqlError(f"expected an operator, found {op!r}")
        value = self.value()
        return _compare(getter, op, value)


def _norm(v: Any) -> Any:
    return v.upper() if isinstance(v, str) else v


def _compare(getter: Getter, op: str, value: Any) -> Callable[[Any], bool]:
    numeric = (int, float)

    def ok(v: Any) -> bool:
        a: Any
        b: Any
        if v is None:
            return op == "!="
        if isinstance(value, str) and isinstance(v, str):
            a, b = v.upper(), value.upper()
        elif isinstance(value, bool) or isinstance(v, bool) or (isinstance(value, numeric) and isinstance(v, numeric)):
            a, b = v, value
        else:
            return op == "!="
        match op:
            case "=":
                return bool(a == b)
            case "!=":
                return bool(a != b)
            case "<":
                return bool(a < b)
            case ">":
                return bool(a > b)
            case "<=":
                return bool(a <= b)
            case _:
                return bool(a >= b)

    if op == "!=":
        return lambda o: all(ok(v) for v in _as_list(getter(o)))
    return lambda o: any(ok(v) for v in _as_list(getter(o)))


def parse(text: str | None, fields: Mapping[str, Getter]) -> Query:
    """Compile an OQL string against the getters of one object type.

    Raises:
        OqlError: on a syntax error or an unknown field.
    """
    if text is None or not text.strip():
        return Query(None, [])
    if len(text) > 4000:
        raise OqlError("filter longer than 4000 characters")
    return _Parser(text, fields).query()


def sort_key(order: list[tuple[Getter, bool]]) -> Callable[[Any], tuple[Any, ...]]:
    """A key that sorts None last and honours DESC per field."""

    def key(obj: Any) -> tuple[Any, ...]:
        parts: list[Any] = []
        for getter, desc in order:
            v = getter(obj)
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
