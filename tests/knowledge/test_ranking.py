"""Retrieval's pure parts: identifiers kept whole, document status, plain-text headings, the
per-document ranking, confidence and abstention, diagnose_job's question and citation, and the
log's error lines. No model, no database."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from resync_mcp.knowledge.chunking import sections
from resync_mcp.knowledge.confidence import Answer, assess
from resync_mcp.knowledge.diagnosis import cite, diagnosis_query
from resync_mcp.knowledge.idents import codes, identifiers, words_outside
from resync_mcp.knowledge.readers import setext_headings, text_headings
from resync_mcp.knowledge.search import ID_WEIGHT, RRF_K, Passage, rank
from resync_mcp.knowledge.status import label, status_of
from resync_mcp.services.joblog import first_errors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GL_NIGHT_POST fails with SQL0911N (deadlock)", ["GL_NIGHT_POST", "SQL0911N"]),
        (
            "on WS1#GLNIGHT.GL_NIGHT_POST, RC=8.",
            ["WS1#GLNIGHT.GL_NIGHT_POST", "WS1", "GLNIGHT", "GL_NIGHT_POST", "RC=8"],
        ),
        ('thread "main" java.lang.OutOfMemoryError: heap', ["JAVA.LANG.OUTOFMEMORYERROR", "OUTOFMEMORYERROR"]),
        ("ORA-01555: snapshot too old; AML-E-504 timeout", ["ORA-01555", "AML-E-504"]),
        ("run /opt/hb/bin/dwh_tmp_cleanup --days 2", ["/OPT/HB/BIN/DWH_TMP_CLEANUP", "DWH_TMP_CLEANUP"]),
        ("at 21:45 raise LOCKTIMEOUT on PRTQ01", ["21:45", "LOCKTIMEOUT", "PRTQ01"]),
        ("the payroll transfer will miss its cutoff: Rerun it. RC or SQL?", []),
        (
            "why does gl_night_post end rc=16 with sql0803n or ora-01555",
            ["GL_NIGHT_POST", "RC=16", "SQL0803N", "ORA-01555"],
        ),
    ],
)
def test_identifiers_are_kept_whole_with_their_parts(text: str, expected: list[str]) -> None:
    assert identifiers(text) == expected


def test_words_outside_identifiers_leave_the_names_out() -> None:
    assert words_outside("SQL0911N GL_NIGHT_POST", ["SQL0911N", "GL_NIGHT_POST"]) == set()
    assert words_outside("GL_NIGHT_POST deadlock during the freeze", ["GL_NIGHT_POST"]) == {
        "deadlo",
        "during",
        "freeze",
    }


def test_codes_are_the_message_and_error_codes() -> None:
    assert codes("workstation AGT002, queue PRTQ01, CPU 100, ISO-8601 times") == []  # not message codes
    assert codes("AWSJSY404E wraps AWSBIN076E; SQL0803N on GL_NIGHT_POST; FXR-W-020") == [
        "AWSJSY404E",
        "AWSBIN076E",
        "SQL0803N",
        "FXR-W-020",
    ]


@pytest.mark.parametrize(
    ("meta", "title", "body", "expected"),
    [
        ({"status": "obsolete"}, "Restart", "Rerun it.", ("obsolete", None)),
        ({"superseded_by": "new.md"}, "Restart", "Rerun it.", ("obsolete", "new.md")),
        ({"status": "Historical"}, "Notes", "Text.", ("historical", None)),
        ({"status": "draft"}, "V2", "Text.", ("draft", None)),
        ({"status": "current"}, "Restart (OBSOLETE)", "OBSOLETE", ("current", None)),  # declared wins
        ({}, "Sending by FTP", "This procedure is OBSOLETE since 2021.", ("obsolete", None)),
        ({}, "Sending by FTP", "Superseded by swift-mq.md in 2021.", ("obsolete", "swift-mq.md")),
        ({}, "Sending by FTP", "RETIRED in 2021: the gateway is gone.", ("obsolete", None)),
        ({}, "Loan accrual v2 (draft)", "Text.", ("draft", None)),
        ({}, "Loan accrual", "DRAFT: not approved yet.", ("draft", None)),
        ({}, "Post-incident review, March 2025", "Summary.", ("historical", None)),
        ({}, "Postmortem: payroll outage", "Summary.", ("historical", None)),
        ({}, "Incident report INC0042", "Summary.", ("historical", None)),
        ({}, "ATM notes", "Historical: the old provider.", ("historical", None)),
        (
            {},
            "Agent restart",
            "Do not use the deprecated -force option; the file is replaced by the job.",
            ("current", None),
        ),
    ],
)
def test_document_status_from_front_matter_or_markers(
    meta: dict[str, Any], title: str, body: str, expected: tuple[str, str | None]
) -> None:
    assert status_of(meta, title, body) == expected


def test_every_status_but_current_is_labelled_as_not_the_procedure() -> None:
    assert label("current", None) is None
    assert "superseded by new.md" in str(label("obsolete", "new.md"))
    for status in ("obsolete", "historical", "draft"):
        assert "not the" in str(label(status, None))


def test_plain_text_headings_become_sections() -> None:
    text = (
        "Workstation PAYDB unlinked\n==========================\n\nSymptoms\n--------\nPAYDB shows unlinked.\n\n"
        "WHAT TO DO AT NIGHT\nRestart the agent.\n\n2. Scope\nAll payroll jobs.\n\n2.1 Limits\nTwenty.\n\n"
        "NOTE: DO NOT RERUN THE JOB TWICE.\nSee the policy.\n"
    )
    found = [" > ".join(path) for path, _ in sections(text_headings(text), "file")]
    assert found == [
        "Workstation PAYDB unlinked > Symptoms",
        "Workstation PAYDB unlinked > WHAT TO DO AT NIGHT",
        "Workstation PAYDB unlinked > 2. Scope",
        "Workstation PAYDB unlinked > 2. Scope > 2.1 Limits",
    ]
    assert "NOTE: DO NOT RERUN THE JOB TWICE." in text_headings(text)  # a sentence, not a heading
    assert text_headings("ONE LINE ONLY") == "ONE LINE ONLY"  # a heading never takes the only text
    assert text_headings("A short title\n\nAnd the text.").startswith("# A short title")


def test_markdown_underlined_headings_become_sections_but_not_rules_or_code() -> None:
    text = "Title\n=====\n\nIntro.\n\nSymptoms\n--------\nA job fails.\n\n```\ncode\n---\n```\n\n| a |\n|---|\n\n---\n"
    got = setext_headings(text)
    assert got.startswith("# Title\n\nIntro.\n\n## Symptoms\nA job fails.")
    assert "code\n---" in got and "| a |\n|---|" in got and got.endswith("\n---")
    assert [" > ".join(p) for p, _ in sections(got, "f")] == ["Title", "Title > Symptoms"]


def _row(doc: str, n: int = 0, *, status: str = "current", idents: str = "", source: str = "") -> dict[str, Any]:
    return {
        "content_hash": f"{doc}-{n}",
        "doc_id": doc,
        "source": source or f"{doc}.md",
        "title": doc,
        "section": f"{doc} > s{n}",
        "ordinal": n,
        "kind": "runbook",
        "text": f"text of {doc} {n}",
        "status": status,
        "superseded_by": None,
        "idents": idents,
    }


def _hits(rows: list[dict[str, Any]], field: str, values: list[float]) -> list[dict[str, Any]]:
    return [{**r, field: v} for r, v in zip(rows, values, strict=True)]


def test_an_exact_identifier_lifts_its_passage_and_rarity_weighs() -> None:
    rows = [_row("a"), _row("b", idents="GL_NIGHT_POST SQL0803N"), _row("c", idents="GL_NIGHT_POST")]
    vector = _hits(rows, "_distance", [0.3, 0.5, 0.4])
    got = rank(vector, [], [], ["GL_NIGHT_POST", "SQL0803N"], {"GL_NIGHT_POST": 1.0, "SQL0803N": 3.0}, limit=3)
    assert [p.doc_id for p in got] == ["b", "c", "a"] and got[0].identifiers == ("GL_NIGHT_POST", "SQL0803N")
    # Found by its identifier alone (neither search listed it), it still ranks.
    only = rank(vector[:1], [], [rows[1]], ["SQL0803N"], {"SQL0803N": 3.0}, limit=2)
    assert [p.doc_id for p in only] == ["b", "a"]


def test_words_around_the_identifier_weaken_it() -> None:
    """Alone, the identifier is worth ``ID_WEIGHT``; in a question that is mostly other words, its
    share of the question's (rarity-weighted) mass."""
    rows = [_row("job", idents="GL_NIGHT_POST"), _row("freeze")]
    vector = _hits([rows[1], rows[0]], "_distance", [0.4, 0.5])

    def bonus(described: float) -> float:
        got = rank(vector, [], [rows[0]], ["GL_NIGHT_POST"], {"GL_NIGHT_POST": 2.0}, limit=2, described=described)
        return next(p.score for p in got if p.doc_id == "job") - 1 / (RRF_K + 2)

    assert bonus(0.0) == pytest.approx(ID_WEIGHT, abs=1e-4)
    assert bonus(14.0) == pytest.approx(ID_WEIGHT * 2 / 16, abs=1e-4)


def test_an_obsolete_document_loses_to_the_current_one_and_keeps_its_label() -> None:
    old, new = _row("old", status="obsolete"), _row("new")
    got = rank(_hits([old, new], "_distance", [0.2, 0.3]), _hits([old, new], "_score", [5.0, 4.0]), [], [], {}, limit=2)
    assert [(p.doc_id, p.status) for p in got] == [("new", "current"), ("old", "obsolete")]


def test_the_first_document_shows_its_sections_then_one_passage_per_document() -> None:
    a = [_row("a", n) for n in range(5)]
    b, c = _row("b"), _row("c", 0)
    c2 = _row("c", 1)
    vector = _hits([*a, b, c, c2], "_distance", [0.1, 0.11, 0.12, 0.13, 0.14, 0.5, 0.6, 0.61])
    got = rank(vector, [], [], [], {}, limit=7)
    # a's three best (the cap), then b's and c's best, then c's second; a's fourth and fifth never.
    assert [(p.doc_id, p.section) for p in got] == [
        ("a", "a > s0"),
        ("a", "a > s1"),
        ("a", "a > s2"),
        ("b", "b > s0"),
        ("c", "c > s0"),
        ("c", "c > s1"),
    ]


def test_ties_are_broken_by_real_scores_not_file_names() -> None:
    first, second = _row("z", source="z.md"), _row("a", source="a.md")
    # Each is first in one list and second in the other: equal fusion scores.
    vector = _hits([first, second], "_distance", [0.2, 0.6])
    keyword = _hits([second, first], "_score", [5.0, 4.9])
    assert rank(vector, keyword, [], [], {}, limit=2)[0].doc_id == "z"  # the far better similarity


def _p(
    doc: str, *, sim: float, vr: int | None = 1, kr: int | None = 1, ids: tuple[str, ...] = (), status: str = "current"
) -> Passage:
    return Passage(doc, f"{doc}.md", doc, doc, "t", 0.03, vr, kr, "runbook", status, None, sim, ids)


def test_confidence_bands_and_abstention() -> None:
    known = frozenset({"GL_NIGHT_POST", "SQL0911N"})
    said = lambda ps, ids, q, cov=1.0: assess(ps, ids, known, coverage=cov, asked=words_outside(q, ids))  # noqa: E731
    high = said([_p("a", sim=0.7)], [], "the nightly posting waited on locks held by reconciliation")
    assert (high.confidence, high.no_match) == ("high", False)
    code = said([_p("a", sim=0.4, ids=("SQL0911N",))], ["SQL0911N"], "SQL0911N")
    assert code.confidence == "high"  # a question that is its identifier, held by the document
    missing = said(
        [_p("a", sim=0.75, ids=("GL_NIGHT_POST",))], ["GL_NIGHT_POST", "SQL0551N"], "GL_NIGHT_POST fails with SQL0551N"
    )
    assert missing.no_match and missing.missing == ("SQL0551N",)
    vague = said([_p("a", sim=0.47)], [], "what is the vacation policy for batch operators", cov=0.2)
    assert vague.no_match and "No runbook covers this" in vague.assessment
    near = said([_p("a", sim=0.47)], [], "debits and credits do not match after the posting", cov=0.5)
    assert not near.no_match and near.confidence == "low"
    obsolete = said([_p("a", sim=0.8, status="obsolete")], [], "the same failure, described")
    assert obsolete.confidence == "medium"  # never "present it as the procedure"
    assert said([], [], "anything").no_match


def test_linked_runbooks_win_near_ties_only() -> None:
    answer = Answer([_p("general", sim=0.6), _p("linked", sim=0.58)], "high", False, "say")
    close = replace(
        answer, passages=[replace(answer.passages[0], score=0.031), replace(answer.passages[1], score=0.030)]
    )
    far = replace(answer, passages=[replace(answer.passages[0], score=0.06), replace(answer.passages[1], score=0.03)])
    assert [p.doc_id for p in cite(close, {"linked"}).passages] == ["linked", "general"]
    assert [p.doc_id for p in cite(far, {"linked"}).passages] == ["general", "linked"]


def test_the_diagnosis_question_joins_error_code_meaning_and_names() -> None:
    q = diagnosis_query(
        "2026-11-30 01:09:55 ERROR SQL0911N The current transaction has been rolled back",
        8,
        "Return code 8: the job failed",
        "GL_NIGHT_POST",
        "GLNIGHT",
        "GLDB01",
    )
    assert q.startswith("SQL0911N The current") and "RC=8 Return code 8" in q
    assert q.endswith("GL_NIGHT_POST GLNIGHT GLDB01")
    assert (
        diagnosis_query("09:11:31 /bin/sh: x.sh: not found", 0, None, "JOB", None, None)
        == "/bin/sh: x.sh: not found JOB"
    )
    assert diagnosis_query(None, None, None, "JOB", None, None) == "JOB"


@pytest.mark.parametrize(
    ("lines", "first"),
    [
        (["step one", "GLP-E-012 Input feed not found", "x"], 2),
        (["ok", "SQL0911N rolled back", "x"], 2),
        (["ok", "ORA-00060: deadlock detected"], 2),
        (["ok", "MQRC 2053 MQRC_Q_FULL on queue"], 2),
        (["loading", 'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space'], 2),
        (["calculating", "Killed"], 2),
        (["extract", "write error: No space left on device"], 2),
        (["ok", "FXR-W-020 Rates file older than 24 hours", "done"], 2),  # a warning when nothing is worse
        (["FXR-W-020 stale", "FXR-E-031 No rate for currency pair"], 2),  # an error before a warning
        (["all good", "processed 10 records"], None),
    ],
)
def test_error_lines_for_product_codes_exceptions_and_signals(lines: list[str], first: int | None) -> None:
    found = first_errors(lines)
    assert (found[0].n if found else None) == first
