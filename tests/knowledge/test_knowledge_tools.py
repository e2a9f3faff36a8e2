"""Knowledge through MCP: search with citations, the kb:// resource, the message reference,
runbooks for a job, one-call diagnosis, prompts and completion; and a lazy startup."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client
from mcp.types import PromptReference

from resync_mcp.app import App
from resync_mcp.knowledge.base import KnowledgeBase
from resync_mcp.simulator import Simulator
from tests.conftest import call, error_text

pytestmark = pytest.mark.anyio


@pytest.fixture
async def kmcp(app: App, starter_kb: KnowledgeBase) -> AsyncIterator[Client]:
    assert app.knowledge_service is not None
    app.knowledge_service.kb = starter_kb  # the session's knowledge base: the model loads once per run
    async with Client(app.server) as client:
        yield client


async def test_search_returns_cited_passages_and_documents_resolve(kmcp: Client) -> None:
    found = await call(kmcp, "search_knowledge", {"query": "workstation unlinked, its jobs stay READY", "limit": 3})
    top = next(p for p in found["passages"] if p["title"] == "Workstation unlinked or stopped")
    assert top["uri"].startswith("kb://doc/")
    assert top["matched_by"] and found["note"]
    assert all(m in ("meaning", "words") or m.startswith("identifiers: ") for m in top["matched_by"])
    assert found["confidence"] in ("high", "medium") and found["no_match"] is False and found["assessment"]
    nothing = await call(kmcp, "search_knowledge", {"query": "MORTGAGE_OFFER_PRINT fails with MOP-E-077"})
    assert nothing["no_match"] is True and nothing["confidence"] == "low"
    assert "No runbook covers this" in nothing["assessment"] and "MOP-E-077" in nothing["assessment"]
    doc = await kmcp.read_resource(top["uri"])
    text = doc.contents[0].text  # type: ignore[union-attr]
    assert "link_workstation" in text and "untrusted" in text
    assert "No knowledge document" in str(await _resource_error(kmcp, "kb://doc/0123456789abcdef"))
    assert "not valid" in await error_text(kmcp, "search_knowledge", {"query": "x y", "tags": ["a'b"]})


async def _resource_error(client: Client, uri: str) -> Exception:
    try:
        await client.read_resource(uri)
    except Exception as exc:
        return exc
    raise AssertionError("no error")


@pytest.mark.parametrize(
    ("code", "found", "expect"),
    [
        ("AWSBIN076E", True, "state that does not allow it"),
        ("rc 127", True, "not found"),
        ("AWSBIN067E", False, "AWSBIN076E"),
    ],
)
async def test_explain_message(kmcp: Client, code: str, found: bool, expect: str) -> None:
    got = await call(kmcp, "explain_message", {"code": code})
    assert got["found"] is found
    assert expect in json.dumps(got)


async def test_runbooks_for_a_job_by_name_pattern(kmcp: Client, sim: Simulator) -> None:
    sim.state()
    job = next(j for j in sim.plan.jobs if "STOCK" in j.name and j.name.startswith("RTL_"))
    got = await call(kmcp, "runbooks_for_job", {"job": job.id})
    assert got["runbooks"][0]["title"] == "Retail stock and price jobs - team runbook"
    assert got["runbooks"][0]["pattern"] == "RTL_*STOCK*"


async def test_diagnose_job_gathers_everything_in_one_bounded_answer(kmcp: Client, sim: Simulator) -> None:
    sim.state()
    job = next(j for j in sim.plan.jobs if j.status == "ABEND")
    got = await call(kmcp, "diagnose_job", {"job": job.id})
    assert got["job"]["status"] == "ABEND" and got["last_run"]["return_code"] == job.rc
    assert got["log_first_errors"] and got["jobinfo"]["exit_status"] == job.rc
    n = got["log_first_errors"][0]["n"]
    assert any(line["n"] == n for line in got["log_around_first_error"])
    codes = {e["code"] for e in got["explanations"]}
    assert {f"RC={job.rc}", "ABEND"} <= codes
    # The reference explains this return code: the diagnosis cites it and does not say nothing matches.
    assert got["confidence"] in ("high", "medium") and "No runbook covers" not in got["assessment"]
    assert any(f"RC={job.rc}" in p["section"] for p in got["passages"])
    cited = [r["uri"] for r in got["runbooks"]] + [p["uri"] for p in got["passages"]]
    assert cited and all(u.startswith("kb://doc/") for u in cited) and got["untrusted"] is True
    assert len(json.dumps(got)) < 20_000


async def test_prompts_list_render_and_complete(kmcp: Client, sim: Simulator) -> None:
    prompts = {p.name: p for p in (await kmcp.list_prompts()).prompts}
    assert set(prompts) == {
        "diagnose_failed_job",
        "morning_plan_check",
        "deadline_risk",
        "incident_summary",
        "explain_abend",
    }
    args = {a.name: a.required for a in prompts["diagnose_failed_job"].arguments or []}
    assert args == {"job": True, "engine": False}
    got = await kmcp.get_prompt("diagnose_failed_job", {"job": "RTL_NIGHTLY_0143.RTL_SORT_STOCK_01\x1b[2J"})
    text = got.messages[0].content.text  # type: ignore[union-attr]
    assert "diagnose_job" in text and "RTL_SORT_STOCK_01" in text and "\x1b" not in text and "(default)" in text
    sim.state()
    prefix = sim.plan.jobs[0].name[:6]
    done = await kmcp.complete(
        PromptReference(type="ref/prompt", name="diagnose_failed_job"), {"name": "job", "value": prefix}
    )
    assert done.completion.values and all(v.split(".")[-1].startswith(prefix) for v in done.completion.values)
    engines = await kmcp.complete(
        PromptReference(type="ref/prompt", name="morning_plan_check"), {"name": "engine", "value": "de"}
    )
    assert engines.completion.values == ["demo"]


def test_starting_the_server_loads_no_model_and_no_database() -> None:
    code = (
        "import sys, anyio\n"
        "from mcp import Client\n"
        "from resync_mcp.app import build_app\n"
        "from resync_mcp.config import load_settings\n"
        "app = build_app(load_settings(None, {'demo': {'enabled': True, 'jobs': 50}}))\n"
        "async def go():\n"
        "    async with Client(app.server) as c:\n"
        "        await c.list_tools()\n"
        "        await c.call_tool('plan_summary', {})\n"
        "anyio.run(go)\n"
        "print([m for m in ('lancedb', 'torch', 'sentence_transformers', 'pyarrow') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


async def test_warm_up_opens_the_base_in_the_background(
    settings: Any, clock: Any, sim: Simulator, embedder: Any
) -> None:
    from resync_mcp.app import build_app

    k = settings.knowledge.model_copy(update={"warm_up": True, "warm_up_delay_s": 0.0})
    app = build_app(settings.model_copy(update={"knowledge": k}), clock=clock, simulator=sim)
    assert app.knowledge is not None and app.knowledge._table is None  # nothing opened by building the app
    app.knowledge.embedder = embedder
    assert not app.knowledge.warm
    await app.start()
    await asyncio.gather(*app._tasks[-1:])  # the warm-up task, which starts the thread
    assert app.warm_thread is not None and app.warm_thread.daemon
    app.warm_thread.join(timeout=60)
    assert app.knowledge.warm and app.knowledge.stats()["documents"] >= 15
    await app.aclose()


def test_kb_cli_ingest_list_stats_remove(tmp_path: Any, monkeypatch: Any, capsys: Any) -> None:
    from resync_mcp.cli import main

    monkeypatch.chdir(tmp_path)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ops.md").write_text("# Ops\n\n## Tape\n\nThe tape robot is serviced on Mondays.\n")
    (docs / "junk.pdf").write_bytes(b"not a pdf")
    env = {"RESYNC_KNOWLEDGE__STARTER_RUNBOOKS": "false"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert main(["kb", "ingest", str(docs)]) == 0
    out = capsys.readouterr()
    assert "1 file(s): 1 chunks stored" in out.out and "error: junk.pdf" in out.out
    assert "2/2 reading" in out.err and "1/1 embedding" in out.err  # the progress bar
    assert main(["kb", "list"]) == 0 and "Ops" in capsys.readouterr().out
    assert main(["kb", "stats"]) == 0 and '"documents": 1' in capsys.readouterr().out
    assert main(["kb", "remove", str((docs / "ops.md").resolve())]) == 0
    assert main(["kb", "remove", "nothing-here"]) == 1


async def test_diagnose_job_reports_its_steps_and_a_cold_start_says_so(app: App, embedder: Any, tmp_path: Any) -> None:
    assert app.knowledge_service is not None
    cold = KnowledgeBase(tmp_path / "kb", embedder=embedder)  # not opened yet: the first use ingests
    app.knowledge_service.kb = cold
    seen: list[tuple[float, float | None, str | None]] = []

    async def report(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with Client(app.server) as client:
        failed = (await call(client, "find_jobs", {"status": ["ERROR"], "limit": 1}))["jobs"][0]
        result = await client.call_tool("diagnose_job", {"job": failed["id"]}, progress_callback=report)
        assert not result.is_error
        steps = [(p, t) for p, t, _ in seen if t == 5]
        assert steps == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
        assert any(m and m.startswith("First knowledge use") for _, _, m in seen)
        assert cold.warm
        seen.clear()
        await client.call_tool("diagnose_job", {"job": failed["id"]}, progress_callback=report)
        assert not any(m and m.startswith("First knowledge use") for _, _, m in seen)  # warm now


async def test_an_unusable_knowledge_folder_is_one_sentence_naming_the_setting(
    app: App, embedder: Any, tmp_path: Any
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the knowledge folder should be")
    assert app.knowledge_service is not None
    app.knowledge_service.kb = KnowledgeBase(blocker, embedder=embedder)
    async with Client(app.server) as client:
        text = await error_text(client, "search_knowledge", {"query": "workstation unlinked"})
        assert "Traceback" not in text
    assert f"The knowledge folder {blocker} cannot be used" in text and "RESYNC_KNOWLEDGE__DIR" in text
    assert blocker.read_text().startswith("a file")  # nothing was lost
