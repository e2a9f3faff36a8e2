"""Bounded job-log views: tail, ranges, search with a time budget, caps, JOBINFO."""

from __future__ import annotations

import time

import pytest

from resync_mcp.errors import InvalidArgument
from resync_mcp.services.joblog import clean, parse_jobinfo, view

LOG = "\n".join(
    [
        "===============",
        "= JOB       : AGT001#FIN_DAILY.LOAD",
        *[f"10:00:{i % 60:02d} INFO step {i}" for i in range(1, 201)],
        "10:05:00 ERROR: ORA-00942: table or view does not exist",
        "===============",
        "= JOBINFO",
        "= Exit Status           : 12",
        "= Elapsed Time (hh:mm:ss) : 00:05:02",
        "= Job CPU usage (user)  : 1.5s",
        "= Job CPU usage (system): 0.25s",
        "===============",
    ]
)


def _view(text: str = LOG, **kw: object) -> object:
    args: dict[str, object] = dict(
        tail=None,
        from_line=None,
        to_line=None,
        search=None,
        context=0,
        max_lines=50,
        max_bytes=20_000,
        regex_timeout_s=0.2,
    )
    args.update(kw)
    return view(text, **args)  # type: ignore[arg-type]


def test_default_is_the_tail_with_errors_and_jobinfo() -> None:
    v = _view()
    total = len(LOG.splitlines())
    assert v.total_lines == total
    assert [ln.n for ln in v.lines] == list(range(total - 49, total + 1))
    assert v.first_errors[0].text.startswith("10:05:00 ERROR: ORA-00942")
    assert v.jobinfo is not None and v.jobinfo.exit_status == 12 and v.jobinfo.elapsed == "00:05:02"
    assert v.jobinfo.cpu_user_s == 1.5 and v.jobinfo.cpu_system_s == 0.25


def test_line_range_is_one_based_and_inclusive() -> None:
    v = _view(from_line=3, to_line=5)
    assert [(ln.n, ln.text) for ln in v.lines] == [
        (3, "10:00:01 INFO step 1"),
        (4, "10:00:02 INFO step 2"),
        (5, "10:00:03 INFO step 3"),
    ]


@pytest.mark.parametrize(("lo", "hi"), [(5, 2), (0, 3), (-1, 4), (9999, None)])
def test_inverted_negative_or_out_of_range_lines_are_refused(lo: int, hi: int | None) -> None:
    with pytest.raises(InvalidArgument):
        _view(from_line=lo, to_line=hi)


def test_search_returns_matches_with_context() -> None:
    v = _view(search=r"step 1[05]$", context=1)
    assert v.matches == 2
    assert [ln.n for ln in v.lines] == [11, 12, 13, 16, 17, 18]


def test_catastrophic_regex_is_stopped_by_the_time_budget() -> None:
    text = "\n".join(["a" * 40 + "!"] * 50)
    start = time.monotonic()
    with pytest.raises(InvalidArgument, match="took too long"):
        _view(text, search=r"(a|aa)+$", regex_timeout_s=0.05)
    assert time.monotonic() - start < 5


def test_invalid_regex_is_a_clear_error() -> None:
    with pytest.raises(InvalidArgument, match="not a valid regular expression"):
        _view(search="([unclosed")


def test_byte_cap_truncates_honestly() -> None:
    v = _view(tail=200, max_lines=500, max_bytes=1024)
    assert v.truncated
    assert any("Byte cap of 1024" in n and "from_line=" in n for n in v.notes)
    assert sum(len(ln.text) for ln in v.lines) < 1024


def test_line_cap_says_how_many_were_cut() -> None:
    v = _view(from_line=1, to_line=200, max_lines=20)
    assert len(v.lines) == 20 and v.truncated
    assert any("first 20 of 200" in n for n in v.notes)


def test_control_and_bidi_characters_are_escaped() -> None:
    assert clean("ok\x1b[31mred\x07") == "ok\\x1b[31mred\\x07"
    assert clean("name\u202egnp.exe") == "name\\u202egnp.exe"
    assert clean("x" * 5000).endswith("[4000 more chars]")


def test_jobinfo_absent_for_a_running_job() -> None:
    assert parse_jobinfo(["10:00 INFO still running"]) is None
