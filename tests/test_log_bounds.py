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
