"""Logging: structlog to stderr only (stdout is the MCP wire over stdio)."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from resync_mcp.audit.redact import MAX_TEXT, redact, redact_text


class _Stderr:
    """Looks sys.stderr up at each write, so a replaced or reopened stderr is honoured."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _Bounded(logging.Filter):
    """Library log lines (the SDK echoes a resource URI or a tool's error) are capped and redacted:
    a 900 kB hostile URI must not become a megabyte of log, nor a password a log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        text = redact_text(message[:MAX_TEXT])
        if len(message) > MAX_TEXT:
            text += f"…[+{len(message) - MAX_TEXT} chars]"
        record.msg, record.args = text, None
        return True


# The per-call line's own fields, which the server sets itself (a registered tool's name, an
# outcome word, a number, a hex id): nothing there to redact, and it is written on every call.
_TRUSTED = {"tool_call": frozenset({"event", "tool", "outcome", "ms", "correlation_id"})}


def _bounded_values(_: object, __: str, event: structlog.typing.EventDict) -> structlog.typing.EventDict:
    """Our own events: every value capped and redacted like an audit payload."""
    trusted = _TRUSTED.get(event.get("event"), frozenset({"exc_info"}))  # type: ignore[arg-type]
    return {k: v if k in trusted or k == "exc_info" else redact(v) for k, v in event.items()}


def _value(v: object) -> str:
    """A string shown as is unless it holds a line break or other control character: one event,
    one line. Anything else as its repr."""
    return v if isinstance(v, str) and v.isprintable() else repr(v)


def _plain(_: object, __: str, event: structlog.typing.EventDict) -> str:
    """``timestamp [level] event key=value ...``: the console format without the development
    renderer's padding and styling (it is for a person at a terminal; a client's log file or a
    container's stderr gets this, at a fraction of the cost per line)."""
    head = f"{event.pop('timestamp', '')} [{event.pop('level', '')}] {event.pop('event', '')}"
    exc = event.pop("exception", None)
    line = " ".join([head, *(f"{k}={_value(v)}" for k, v in sorted(event.items()))])
    return f"{line}\n{exc}" if exc else line


_call_line: Callable[[structlog.typing.EventDict], str] | None = None  # set by configure()
_plain_calls = False  # the direct line is the plain format (no dict, no sort: written below)
_renderer: object = None  # the renderer configure() installed


_second: tuple[int, str] = (-1, "")  # the current second, formatted once


def _now_iso() -> str:
    """Now as structlog's ISO stamp writes it (microseconds, if any, then Z), the date and time
    of day formatted once a second."""
    global _second
    now = time.time()
    sec = int(now)
    if sec != _second[0]:
        _second = (sec, datetime.fromtimestamp(sec, UTC).isoformat().replace("+00:00", ""))
    micro = int((now - sec) * 1_000_000)
    return f"{_second[1]}.{micro:06d}Z" if micro else f"{_second[1]}Z"


def _shown(value: str | None) -> str:
    """A value of ours as ``_plain`` shows it, redacted."""
    return _value(redact(value))


def tool_call(
    logger: structlog.typing.FilteringBoundLogger,
    *,
    tool: str,
    engine: str | None,
    outcome: str,
    ms: float,
    correlation_id: str,
) -> None:
    """The line every tool call writes. Once configured for a file or pipe (not a terminal), it
    is rendered and written directly, the same line as through structlog's chain at a fraction of
    the cost: it is on every call's path."""
    procs = structlog.get_config()["processors"]
    if _call_line is None or not procs or procs[-1] is not _renderer:  # reconfigured since (tests)
        logger.info("tool_call", tool=tool, engine=engine, outcome=outcome, ms=ms, correlation_id=correlation_id)
        return
    ts = _now_iso()
    if _plain_calls:  # _plain's line for these fields, keys in its (sorted) order
        sys.stderr.write(
            f"{ts} [info] tool_call correlation_id={correlation_id} engine={_shown(engine)} ms={ms!r}"
            f" outcome={outcome} tool={tool}\n"
        )
        return
    fields = {"tool": tool, "engine": engine, "outcome": outcome, "ms": ms, "correlation_id": correlation_id}
    event = {"event": "tool_call", **_bounded_values(None, "info", fields), "level": "info", "timestamp": ts}
    sys.stderr.write(_call_line(event) + "\n")


def configure(level: str = "INFO", fmt: str = "console") -> None:
    global _call_line, _plain_calls, _renderer
    lvl = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(stream=sys.stderr, level=lvl, format="%(levelname)s %(name)s: %(message)s", force=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_Bounded())
    # httpx logs every request at INFO; that is noise next to our own per-call line.
    for name in ("httpx", "httpx2"):  # httpx2 is the SDK's own HTTP client
        logging.getLogger(name).setLevel(max(lvl, logging.WARNING))
    renderer: structlog.typing.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    elif sys.stderr.isatty():
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    else:
        renderer = _plain
    json_line = structlog.processors.JSONRenderer()
    fast: Callable[[structlog.typing.EventDict], str] | None = None
    if fmt == "json":
        fast = lambda e: str(json_line(None, "info", e))  # noqa: E731
    elif renderer is _plain:
        fast = lambda e: _plain(None, "info", e)  # noqa: E731
    _call_line = fast if lvl <= logging.INFO else None
    _plain_calls = renderer is _plain
    _renderer = renderer
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            _bounded_values,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.WriteLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]  # one write per line
        cache_logger_on_first_use=False,
    )
