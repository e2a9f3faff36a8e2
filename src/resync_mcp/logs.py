"""Logging: structlog to stderr only (stdout is the MCP wire over stdio)."""

from __future__ import annotations

import logging
import sys

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


def _bounded_values(_: object, __: str, event: structlog.typing.EventDict) -> structlog.typing.EventDict:
    """Our own events: every value capped and redacted like an audit payload."""
    return {k: v if k == "exc_info" else redact(v) for k, v in event.items()}


def configure(level: str = "INFO", fmt: str = "console") -> None:
    lvl = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(stream=sys.stderr, level=lvl, format="%(levelname)s %(name)s: %(message)s", force=True)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_Bounded())
    # httpx logs every request at INFO; that is noise next to our own per-call line.
    for name in ("httpx", "httpx2"):  # httpx2 is the SDK's own HTTP client
        logging.getLogger(name).setLevel(max(lvl, logging.WARNING))
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            _bounded_values,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
