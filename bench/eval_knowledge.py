"""Retrieval quality on the evaluation corpus (bench/eval): a fictional bank's runbooks with hard
negatives (the same job with another failure, obsolete, historical and draft documents, generic
references) and 112 questions of five kinds. Separate from the starter runbooks and the tests.

For each answerable question: recall@5 (share of its relevant documents among the first five
passages' documents) and reciprocal rank of the first relevant one; per kind and overall. For
abstention: of the unanswerable questions, how many got ``no_match``; of the answerable ones,
how many did (wrongly). And the precision of each confidence band (the first result relevant).

    python bench/eval_knowledge.py [--mode hybrid] [--corpus bench/eval/corpus] [--show-misses]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from resync_mcp.knowledge import messages
from resync_mcp.knowledge.base import Embedder, KnowledgeBase
from resync_mcp.knowledge.diagnosis import diagnosis_query
from resync_mcp.services.joblog import first_errors

HERE = Path(__file__).resolve().parent


def run(
    corpus: Path, questions: list[dict[str, Any]], mode: str, show: bool, embedder: Embedder | None = None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(Path(tmp) / "kb", starter=False, embedder=embedder)
        started = time.perf_counter()
        report = kb.ingest([corpus])
        took = time.perf_counter() - started
        print(f"ingest: {report.files} files, {report.added} chunks in {took:.1f} s (model load included)")
        per_kind: dict[str, list[tuple[float, float]]] = defaultdict(list)
        bands: dict[str, list[bool]] = defaultdict(list)
        abstained = {"unanswerable": 0, "answerable": 0}
        latencies = []
        for item in questions:
            t = time.perf_counter()
            answer = kb.answer(item["q"], limit=5, mode=mode)
            latencies.append((time.perf_counter() - t) * 1000)
            names = [Path(p.source).name for p in answer.passages]
            relevant = set(item["relevant"])
            if not relevant:
                abstained["unanswerable"] += answer.no_match
                bands[answer.confidence].append(False)
                continue
            abstained["answerable"] += answer.no_match
            if item.get("section"):  # a section question counts only passages from that section
                names = [
                    n if item["section"].lower() in p.section.lower() else ""
                    for n, p in zip(names, answer.passages, strict=True)
                ]
            firsts = list(dict.fromkeys(names))
            rank = next((n for n, name in enumerate(firsts, start=1) if name in relevant), None)
            recall = len(relevant & set(names)) / len(relevant)
            per_kind[item["kind"]].append((recall, 1 / rank if rank else 0.0))
            bands[answer.confidence].append(bool(names) and names[0] in relevant)
            if show and (rank != 1 or recall < 1):
                print(f"  miss [{item['kind']}] {item['q']!r}: rank {rank}, got {firsts[:3]}")
        out_incidents = diagnose(kb, json.loads((HERE / "eval" / "incidents.json").read_text(encoding="utf-8")), show)
    answerable = [x for xs in per_kind.values() for x in xs]
    unanswerable = sum(1 for q in questions if not q["relevant"])
    out: dict[str, Any] = {
        "recall@5": statistics.mean(r for r, _ in answerable),
        "mrr": statistics.mean(m for _, m in answerable),
        "by_kind": {
            k: (statistics.mean(r for r, _ in v), statistics.mean(m for _, m in v), len(v)) for k, v in per_kind.items()
        },
        "abstain_unanswerable": (abstained["unanswerable"], unanswerable),
        "abstain_answerable": (abstained["answerable"], len(answerable)),
        "bands": {b: (sum(v), len(v)) for b, v in bands.items()},
        "p50_ms": statistics.median(latencies),
        "incidents": out_incidents,
    }
    return out


def diagnose(kb: KnowledgeBase, incidents: list[dict[str, Any]], show: bool) -> tuple[int, int, int, int]:
    """diagnose_job's knowledge step on each incident, as the service runs it: the first error the
    log detector finds, the return code's meaning, the names; runbooks linked to the job win ties.
    Returns (right runbook cited first, incidents with one; said no match, incidents without)."""
    right = none_said = 0
    for incident in incidents:
        errors = first_errors(incident["log"])
        meaning = messages.lookup(f"RC={incident['rc']}")[0]
        query = diagnosis_query(
            errors[0].text if errors else None,
            incident["rc"],
            meaning.title if meaning else None,
            incident["job"],
            incident["stream"],
            incident["workstation"],
        )
        answer = kb.for_failure(query, incident["job"], incident["stream"])
        top = Path(answer.passages[0].source).name if answer.passages and not answer.no_match else None
        expected = incident["expected"]
        if expected is None:
            none_said += answer.no_match
        else:
            right += top == expected
        if show and top != expected:
            print(f"  diagnose miss {incident['job']} rc={incident['rc']}: cited {top}, expected {expected}: {query!r}")
    with_runbook = sum(1 for i in incidents if i["expected"])
    return right, with_runbook, none_said, len(incidents) - with_runbook


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=HERE / "eval" / "corpus")
    ap.add_argument("--questions", type=Path, default=HERE / "eval" / "questions.json")
    ap.add_argument("--mode", default="hybrid", choices=["hybrid", "vector", "keyword"])
    ap.add_argument("--show-misses", action="store_true")
    a = ap.parse_args()
    questions = json.loads(a.questions.read_text(encoding="utf-8"))
    r = run(a.corpus, questions, a.mode, a.show_misses)
    answerable = sum(n for *_, n in r["by_kind"].values())
    print(f"{a.mode}: recall@5 {r['recall@5']:.3f}, MRR {r['mrr']:.3f} over {answerable} answerable questions")
    for kind, (recall, mrr, n) in sorted(r["by_kind"].items()):
        print(f"  {kind:12s} recall@5 {recall:.3f}  MRR {mrr:.3f}  ({n})")
    u, nu = r["abstain_unanswerable"]
    w, na = r["abstain_answerable"]
    print(
        f"abstention: {u} of {nu} unanswerable questions answered no_match; {w} of {na} answerable ones ({w / na:.1%})"
    )
    for band in ("high", "medium", "low"):
        good, n = r["bands"].get(band, (0, 0))
        print(
            f"  confidence {band:6s}: {n} answers, first result relevant in {good} ({good / n:.0%})"
            if n
            else f"  confidence {band:6s}: none"
        )
    print(f"query p50 (warm, embedding included): {r['p50_ms']:.1f} ms")
    right, n, said, none = r["incidents"]
    print(f"diagnose_job: right runbook cited first in {right} of {n} incidents", end="; ")
    print(f"no match said for {said} of {none} without one")


if __name__ == "__main__":
    main()
