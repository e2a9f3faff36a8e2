"""Logging: structlog to stderr only (stdout is the MCP wire over stdio)."""

from __future__ import annotations

import logging
import sys

import structlog


class _Stderr:
    """Looks sys.stderr up at each write, so a replaced or reopened stderr is honoured."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure(level: str = "INFO", fmt: str = "console") -> None:
    lvl = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(stream=sys.stderr, level=lvl, format="%(levelname)s %(name)s: %(message)s", force=True)
    # httpx logs every request at INFO; that is noise next to our own per-call line.
    for name in ("httpx", "httpx2"):  # httpx2 is the SDK's own HTTP client
        logging.getLogger(name).setLevel(max(lvl, logging.WARNING))
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(lvl),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
