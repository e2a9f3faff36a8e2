"""The knowledge base on disk with the real model: ingest, incremental re-ingest, dedupe,
errors, removal, filters, runbooks for a job, and retrieval quality."""

from __future__ import annotations

from pathlib import Path

from resync_mcp.knowledge.base import Embedder, KnowledgeBase
from resync_mcp.knowledge.evaluate import evaluate, load_set
from tests.knowledge.test_chunking import minimal_pdf

RUNBOOK = """---
title: Payroll run
tags: [payroll, team]
applies_to: [HR_*PAYROLL*]
---
# Payroll run

## Failures
The payroll export fails with return code 4 when the bank calendar is missing.

## Rerun
Rerun the export after the calendar team uploads the file.
"""


def write_corpus(root: Path) -> Path:
    docs = root / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "payroll.md").write_text(RUNBOOK)
    (docs / "notes.txt").write_text("The sftp gateway is patched every Sunday at two in the morning.\n")
    (docs / "sub" / "agents.html").write_text("<h1>Agents</h1><p>Restart the agent with the service manager.</p>")
    (docs / "sub" / "guide.pdf").write_bytes(minimal_pdf("Tape library maintenance window"))
    (docs / "sub" / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    (docs / "ignored.bin").write_bytes(b"\x00\x01")
    return docs


def test_ingest_every_format_and_report_bad_files_without_stopping(empty_kb: KnowledgeBase, tmp_path: Path) -> None:
    docs = write_corpus(tmp_path)
    seen: list[tuple[int, int, str]] = []
    report = empty_kb.ingest([docs, tmp_path / "missing.md"], progress=lambda n, t, s: seen.append((n, t, s)))
    assert report.files == 4 and report.added >= 4 and report.unchanged == 0
    assert len(report.errors) == 2 and any("broken.pdf" in e for e in report.errors)
    assert any("missing.md" in e for e in report.errors)
    reading = [(n, t) for n, t, s in seen if s.startswith("reading")]
    assert reading[-1] == (5, 5) and seen[-1][2] == "embedding chunks" and seen[-1][0] == seen[-1][1]
    titles = {d.title for d in empty_kb.documents()}
    assert {"Payroll run", "notes", "Agents"} <= titles
    assert empty_kb.search("tape library maintenance", limit=1)[0].source.endswith("guide.pdf")
    assert empty_kb.search("restart agent service manager", limit=1)[0].source.endswith("agents.html")


def test_reingest_touches_only_changed_files(empty_kb: KnowledgeBase, tmp_path: Path) -> None:
    docs = write_corpus(tmp_path)
    empty_kb.ingest([docs])
    again = empty_kb.ingest([docs])
    assert again.unchanged == 4 and again.added == 0 and again.embedded == 0
    (docs / "payroll.md").write_text(RUNBOOK.replace("return code 4", "return code 16"))
    changed = empty_kb.ingest([docs])
    assert changed.unchanged == 3 and changed.added == 2 and changed.embedded == 1  # two sections, one changed
    hits = empty_kb.search("payroll export return code", limit=3, source=str((docs / "payroll.md").resolve()))
    assert any("return code 16" in p.text for p in hits) and not any("return code 4 " in p.text for p in hits)


def test_identical_text_is_embedded_once_and_returned_once(empty_kb: KnowledgeBase, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# Shared\n\nThe shared paragraph about tape drives.\n")
    (tmp_path / "b.md").write_text("# Shared\n\nThe shared paragraph about tape drives.\n")
    report = empty_kb.ingest([tmp_path / "a.md", tmp_path / "b.md"])
    assert report.added == 2 and report.embedded == 1
    assert len([p for p in empty_kb.search("tape drives", limit=5) if "tape drives" in p.text]) == 1


def test_remove_list_stats_and_document(empty_kb: KnowledgeBase, tmp_path: Path) -> None:
    docs = write_corpus(tmp_path)
    empty_kb.ingest([docs])
    source = str((docs / "payroll.md").resolve())
    payroll = next(d for d in empty_kb.documents() if d.source == source)
    info, text = empty_kb.document(payroll.doc_id) or (None, "")
    assert info is not None and "## Rerun" not in text and "Payroll run > Rerun" in text
    assert empty_kb.remove(source) == payroll.chunks and empty_kb.stats()["documents"] == 3
    assert empty_kb.document(payroll.doc_id) is None and empty_kb.document("../../etc") is None
    assert not [p for p in empty_kb.search("payroll export", limit=5) if p.source == source]


def test_filters_by_tag_and_source(empty_kb: KnowledgeBase, tmp_path: Path) -> None:
    empty_kb.ingest([write_corpus(tmp_path)])
    tagged = empty_kb.search("rerun", limit=5, tags=["payroll"])
    assert tagged and all(p.title == "Payroll run" for p in tagged)
    assert empty_kb.search("rerun", limit=5, tags=["nope"]) == []


def test_runbooks_for_a_job_most_specific_first(starter_kb: KnowledgeBase) -> None:
    matches = starter_kb.runbooks_for("RTL_CALC_STOCK_02", "RTL_NIGHTLY_0143", query="input file not found")
    assert [m.title for m in matches] == ["Retail stock and price jobs - team runbook"]
    assert matches[0].matched == "job" and matches[0].passage is not None
    assert "input file not found" in matches[0].passage.text
    assert starter_kb.runbooks_for("OPS_BACKUP_01", "OPS_DAILY_0001") == []


def test_hybrid_search_beats_vector_only_and_keyword_only(starter_kb: KnowledgeBase) -> None:
    items = load_set(Path(__file__).with_name("retrieval_set.json"))
    quality = {q.mode: q for q in evaluate(starter_kb, items)}
    hybrid, vector, keyword = quality["hybrid"], quality["vector"], quality["keyword"]
    assert hybrid.mrr > max(vector.mrr, keyword.mrr), quality
    assert hybrid.recall_at_k >= max(vector.recall_at_k, keyword.recall_at_k), quality
    assert hybrid.recall_at_k >= 0.8


def test_a_repeated_question_is_embedded_once(starter_kb: KnowledgeBase, embedder: Embedder) -> None:
    calls: list[list[str]] = []

    class Counting(Embedder):
        def encode(self, texts: list[str]) -> list[list[float]]:
            calls.append(texts)
            return embedder.encode(texts)

    original = starter_kb.embedder
    starter_kb.embedder = Counting()
    try:
        question = "input file not found on the stock feed"
        starter_kb.runbooks_for("RTL_CALC_STOCK_02", "RTL_DAILY_0001", query=question)
        starter_kb.search(question, limit=3)
    finally:
        starter_kb.embedder = original
    assert calls == [[question]]
