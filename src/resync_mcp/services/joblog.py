"""Pure job-log analysis: bounded views, regex search with a time budget, JOBINFO parsing."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import regex

from resync_mcp.errors import InvalidArgument

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_ERROR_LINE = re.compile(
    r"(\bERROR\b|\bFATAL\b|\bSEVERE\b|\w*(?:Exception|Error)\b|\bORA-\d{5}\b|\bSQLCODE\b|No such file or directory|"
    r"\bKilled\b|\bABEND\b|Permission denied|command not found|Traceback|No space left on device|"
    r"Segmentation fault|core dumped|Out of memory|\btimed out\b|\bfailed\b)",
    re.IGNORECASE,
)
# Product and application message codes, in their own case: AWSBHU510E, SQL0911N, ORA-00060,
# GLP-E-012 (error or severe), MQRC 2053. A warning code (FXR-W-020) counts when nothing worse is there.
_CODE_LINE = re.compile(
    r"\b(?:[A-Z]{3,}\d{3,}[ESC]|SQL\d{4,5}[NC]|[A-Z]{2,6}-[ESF]-\d{2,4}|MQRC[ _]\d{4}|[A-Z]{2,6}-\d{3,5})\b"
)
_WARNING_LINE = re.compile(r"\b(?:[A-Z]{2,6}-W-\d{2,4}|[A-Z]{3,}\d{3,}W|SQL\d{4,5}W)\b")
_JOBINFO = {
    "exit_status": re.compile(r"Exit Status\s*:\s*(-?\d+)", re.IGNORECASE),
    "elapsed": re.compile(r"Elapsed Time(?:\s*\([^)]*\))?\s*:\s*([0-9:]+)", re.IGNORECASE),
    "cpu_user": re.compile(r"CPU usage \(user\)\s*:\s*([0-9.]+)", re.IGNORECASE),
    "cpu_system": re.compile(r"CPU usage \(system\)\s*:\s*([0-9.]+)", re.IGNORECASE),
}
MAX_PATTERN = 200
MAX_LINE_CHARS = 1000


def clean(line: str) -> str:
    """Make a log line safe to show: control and bidi characters escaped, length capped."""
    line = _CONTROL.sub(
        lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256 else f"\\u{ord(m.group()):04x}", line
    )
    if len(line) > MAX_LINE_CHARS:
        line = line[:MAX_LINE_CHARS] + f"… [{len(line) - MAX_LINE_CHARS} more chars]"
    return line


@dataclass(frozen=True)
class LogLine:
    n: int
    text: str


@dataclass(frozen=True)
class JobInfo:
    exit_status: int | None = None
    elapsed: str | None = None
    cpu_user_s: float | None = None
    cpu_system_s: float | None = None


@dataclass
class LogView:
    total_lines: int
    lines: list[LogLine]
    first_errors: list[LogLine]
    jobinfo: JobInfo | None
    matches: int | None = None
    truncated: bool = False
    notes: list[str] = field(default_factory=list)


def parse_jobinfo(lines: list[str]) -> JobInfo | None:
    """Read the JOBINFO trailer (exit status, elapsed, CPU) from the end of a log."""
    tail = lines[-40:]
    found: dict[str, str] = {}
    for ln in tail:
        for key, rx in _JOBINFO.items():
            if key not in found and (m := rx.search(ln)):
                found[key] = m.group(1)
    if "exit_status" not in found and "elapsed" not in found:
        return None
    return JobInfo(
        exit_status=int(found["exit_status"]) if "exit_status" in found else None,
        elapsed=found.get("elapsed"),
        cpu_user_s=float(found["cpu_user"]) if "cpu_user" in found else None,
        cpu_system_s=float(found["cpu_system"]) if "cpu_system" in found else None,
    )


def first_errors(lines: list[str], limit: int = 5) -> list[LogLine]:
    """The first lines that report an error (words, exceptions, signals or a product's error
    code); when there are none, the first warning codes."""
    out: list[LogLine] = []
    warnings: list[LogLine] = []
    for i, ln in enumerate(lines, 1):
        if ln.startswith("="):  # the JOBINFO banner
            continue
        if _CODE_LINE.search(ln) or _ERROR_LINE.search(ln):
            out.append(LogLine(i, clean(ln)))
            if len(out) >= limit:
                break
        elif len(warnings) < limit and _WARNING_LINE.search(ln):
            warnings.append(LogLine(i, clean(ln)))
    return out or warnings


def compile_search(pattern: str) -> regex.Pattern[str]:
    """Compile a user-supplied search pattern.

    Raises:
        InvalidArgument: when it is too long or not a valid regular expression.
    """
    if len(pattern) > MAX_PATTERN:
        raise InvalidArgument(f"The search pattern is longer than {MAX_PATTERN} characters.")
    try:
        return regex.compile(pattern, regex.IGNORECASE)
    except regex.error as exc:
        raise InvalidArgument(f"The search pattern is not a valid regular expression: {exc}.") from None


def view(
    text: str,
    *,
    tail: int | None,
    from_line: int | None,
    to_line: int | None,
    search: str | None,
    context: int,
    max_lines: int,
    max_bytes: int,
    regex_timeout_s: float,
) -> LogView:
    """Select the lines to show. Exactly one mode: search, a line range, or the tail.

    Raises:
        InvalidArgument: for an inverted range, a bad pattern, or a search that exceeds
            its time budget (a pattern that backtracks catastrophically).
    """
    lines = text.splitlines()
    total = len(lines)
    info = parse_jobinfo(lines)
    errors = first_errors(lines)
    notes: list[str] = []
    matches: int | None = None
    if search is not None:
        rx = compile_search(search)
        selected: list[int] = []
        seen: set[int] = set()
        matches = 0
        budget = regex_timeout_s
        start = time.monotonic()
        for i, ln in enumerate(lines):
            remaining = budget - (time.monotonic() - start)
            try:
                hit = rx.search(ln[: MAX_LINE_CHARS * 4], timeout=max(remaining, 0.001)) is not None
            except TimeoutError:
                raise InvalidArgument(
                    "The search pattern took too long to run (it likely backtracks catastrophically).",
                    hint="Use a simpler pattern, e.g. a literal word such as 'ORA-' or 'ERROR'.",
                ) from None
            if hit:
                matches += 1
                for j in range(max(0, i - context), min(total, i + context + 1)):
                    if j not in seen:
                        seen.add(j)
                        selected.append(j)
        idx = selected
        if matches == 0:
            notes.append("No line matched the search pattern.")
    elif from_line is not None or to_line is not None:
        lo = 1 if from_line is None else from_line
        hi = total if to_line is None else to_line
        if lo < 1 or hi < 1:
            raise InvalidArgument("Line numbers start at 1.")
        if hi < lo:
            raise InvalidArgument(f"to_line ({hi}) is before from_line ({lo}).", hint="Swap them or omit to_line.")
        if lo > total and total > 0:
            raise InvalidArgument(f"from_line {lo} is past the end of the log ({total} lines).")
        idx = list(range(lo - 1, min(hi, total)))
    else:
        n = tail if tail is not None else max_lines
        idx = list(range(max(0, total - n), total))
    truncated = False
    if len(idx) > max_lines:
        notes.append(f"Showing the first {max_lines} of {len(idx)} selected lines; narrow the range or search.")
        idx = idx[:max_lines]
        truncated = True
    out: list[LogLine] = []
    size = 0
    for i in idx:
        line = LogLine(i + 1, clean(lines[i]))
        size += len(line.text.encode()) + 8
        if size > max_bytes:
            notes.append(
                f"Byte cap of {max_bytes} reached after {len(out)} lines; {len(idx) - len(out)} selected lines "
                f"not shown. Continue with from_line={i + 1}."
            )
            truncated = True
            break
        out.append(line)
    return LogView(total, out, errors, info, matches, truncated, notes)
