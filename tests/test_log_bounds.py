"""Logs are bounded and redacted: hostile input cannot flood them or carry a secret into them."""

from __future__ import annotations

import contextlib

import pytest
from mcp import Client

from resync_mcp.audit.redact import redact
from resync_mcp.logs import configure

pytestmark = pytest.mark.anyio


async def test_a_huge_hostile_resource_uri_makes_a_bounded_log_line(
    mcp: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    configure("DEBUG")
    uri = "hwa://demo/plan/jobs/" + "A" * 900_000 + "?password=hunter2"
    with contextlib.suppress(Exception):  # the read fails; what matters is what was logged
        await mcp.read_resource(uri)
    with contextlib.suppress(Exception):
        await mcp.call_tool("get_job", {"job": "x" * 900_000 + " token=abc123"})
    err = capsys.readouterr().err
    assert err, "nothing was logged: the test would prove nothing"
    assert max(len(line) for line in err.splitlines()) < 10_000
    assert "hunter2" not in err and "abc123" not in err


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("mysql -uroot -pS3cretPw db", "S3cretPw"),
        ("run.sh --password=hunter2 now", "hunter2"),
        ("export PWD=x; login pwd=abc123", "abc123"),
        ("curl -s https://ops:pa55word@engine:31116/twsd", "pa55word"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        ("Authorization: Bearer abcdefgh12345678", "abcdefgh12345678"),
        ("token: 'quoted secret value'", "quoted secret value"),
    ],
)
def test_free_text_secrets_are_redacted(text: str, secret: str) -> None:
    assert secret not in redact(text) and "[redacted]" in redact(text)


@pytest.mark.parametrize("text", ["ls -la /tmp", "nc -p 3306 host", "sqlplus -s @report.sql", "password reset done"])
def test_ordinary_commands_are_left_alone(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize("engine", ["password=hunter2", None, "demo", "de\nmo password=hunter2", "é\x00"])
@pytest.mark.parametrize("fmt", ["console", "json"])
def test_the_per_call_line_written_directly_is_the_one_the_chain_writes(
    fmt: str, engine: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Outside a terminal the per-call line skips structlog's chain; it must say the same, redacted."""
    import json

    import structlog

    from resync_mcp import logs

    configure("INFO", fmt)
    assert logs._call_line is not None  # captured stderr is not a terminal: the direct path is on
    log = structlog.get_logger("test")
    fields = {"tool": "get_job", "engine": engine, "outcome": "ok", "ms": 1.25, "correlation_id": "c0ffee"}
    logs.tool_call(log, **fields)
    logs._call_line, direct_on = None, logs._call_line
    logs.tool_call(log, **fields)  # through the chain
    logs._call_line = direct_on
    direct, chained = capsys.readouterr().err.strip().splitlines()
    assert "hunter2" not in direct

    def without_time(line: str) -> object:
        if fmt == "json":
            return {k: v for k, v in json.loads(line).items() if k != "timestamp"}
        return line.split(" ", 1)[1]

    assert without_time(direct) == without_time(chained)


def test_a_line_break_in_a_value_cannot_forge_a_log_line(capsys: pytest.CaptureFixture[str]) -> None:
    import structlog

    configure("INFO")
    structlog.get_logger("test").info("tool_call", engine="demo\n2026-01-01T00:00:00Z [info] forged", ms=1.0)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "forged" in lines[0]


def test_the_per_call_time_stamp_is_structlogs_iso_form_and_now() -> None:
    from datetime import UTC, datetime

    from resync_mcp import logs

    for _ in range(3):
        before = datetime.now(UTC)
        stamp = logs._now_iso()
        after = datetime.now(UTC)
        assert stamp.endswith("Z") and "+" not in stamp
        seen = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assert before.replace(microsecond=0) <= seen <= after  # the same instant, to the microsecond's floor
        assert len(stamp) in (len("2026-11-30T12:00:00Z"), len("2026-11-30T12:00:00.123456Z"))
