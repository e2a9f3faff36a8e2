"""The real server, driven through the SDK's in-memory client."""

from __future__ import annotations

import json
import re

import pytest
from mcp import Client

from resync_mcp.app import App
from resync_mcp.simulator import Simulator
from tests.conftest import call, error_text, hints

pytestmark = pytest.mark.anyio

READ_TOOLS = {
    "plan_summary",
    "find_jobs",
    "get_job",
    "get_job_log",
    "job_dependencies",
    "find_job_streams",
    "get_job_stream",
    "list_workstations",
    "list_resources",
    "list_prompts",
}


async def test_every_read_tool_is_read_only_titled_described_and_structured(mcp: Client) -> None:
    tools = {t.name: t for t in (await mcp.list_tools()).tools if t.name in READ_TOOLS | {"server_health"}}
    assert set(tools) == READ_TOOLS | {"server_health"}
    health = tools.pop("server_health")
    assert hints(health)["read_only"] is True
    assert hints(health)["open_world"] is False  # it reads only the server's own state
    for t in tools.values():
        assert t.title and t.description and len(t.description) < 200
        assert hints(t) == {"read_only": True, "destructive": False, "idempotent": True, "open_world": True}
        assert t.output_schema is not None and {"engine", "as_of"} <= set(t.output_schema["properties"])
        for name, prop in t.input_schema["properties"].items():
            # an argument without a description is one every tool shares, explained once in the instructions
            assert prop.get("description") or re.search(rf"\b{name}\b", mcp.instructions or ""), (t.name, name)


async def test_plan_summary_counts_match_the_plan(mcp: Client, sim: Simulator) -> None:
    s = await call(mcp, "plan_summary", {})
    sim.state()
    plan = sim.plan
    assert s["engine"] == "demo" and s["as_of"]
    assert s["total_jobs"] == len(plan.jobs) == sum(s["by_status"].values())
    assert s["by_status"]["ABEND"] == sum(j.status == "ABEND" for j in plan.jobs)
    assert s["held_jobs"] == sum(j.forced == "HOLD" for j in plan.jobs)
    assert s["critical_jobs"] == sum(j.critical for j in plan.jobs)
    assert s["error_jobs"] == sum(j.status in ("ABEND", "FAIL") for j in plan.jobs)
    assert sum(s["by_common_status"].values()) == len(plan.jobs)


async def test_find_jobs_by_status_pages_through_every_match_once(mcp: Client, sim: Simulator) -> None:
    sim.state()
    expected = {j.id for j in sim.plan.jobs if j.status in ("SUCC", "ABEND")}
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        args = {"status": ["SUCC", "abend"], "limit": 50, **({"cursor": cursor} if cursor else {})}
        page = await call(mcp, "find_jobs", args)
        pages += 1
        assert page["total"] == len(expected)
        seen += [j["id"] for j in page["jobs"]]
        if not page["truncated"]:
            assert page["next_cursor"] is None
            break
        assert "more" in page["note"]
        cursor = page["next_cursor"]
    assert pages > 1 and len(seen) == len(set(seen)) and set(seen) == expected


async def test_find_jobs_common_status_error_covers_abend_and_fail(mcp: Client, sim: Simulator) -> None:
    sim.state()
    page = await call(mcp, "find_jobs", {"status": ["ERROR"], "limit": 200})
    assert {j["id"] for j in page["jobs"]} == {j.id for j in sim.plan.jobs if j.status in ("ABEND", "FAIL")}


async def test_find_jobs_name_workstation_folder_and_flags(mcp: Client, sim: Simulator) -> None:
    page = await call(mcp, "find_jobs", {"name": "fin_*", "folder": "FINANCE", "limit": 200})
    assert page["jobs"] and all(j["name"].startswith("FIN_") and j["folder"] == "/FINANCE/" for j in page["jobs"])
    crit = await call(mcp, "find_jobs", {"critical": True, "limit": 200})
    assert crit["total"] == sum(j.critical for j in sim.plan.jobs)
    ws = sim.plan.workstations[2].name
    on_ws = await call(mcp, "find_jobs", {"workstation": ws, "limit": 200})
    assert on_ws["jobs"] and all(j["workstation"] == f"/{ws}" for j in on_ws["jobs"])
    srt = await call(mcp, "find_jobs", {"sort": "-name", "limit": 20})
    names = [j["name"] for j in srt["jobs"]]
    assert names == sorted(names, reverse=True)


async def test_get_job_by_id_and_by_reference(mcp: Client, sim: Simulator) -> None:
    sim.state()
    target = next(j for j in sim.plan.jobs if j.status == "ABEND")
    stream = sim.plan.streams[target.stream]
    by_id = await call(mcp, "get_job", {"job": target.id})
    by_ref = await call(mcp, "get_job", {"job": f"{stream.name}.{target.name}"})
    assert by_id["job"] == by_ref["job"]
    assert by_id["job"]["return_code"] == target.rc and by_id["job"]["status"] == "ABEND"
    assert "rerun" in by_id["allowed_actions"] and "kill" not in by_id["allowed_actions"]
    assert len(by_id["dependencies"]) == len(target.deps)
    assert by_id["runs"][-1]["id"] == target.run_ids[-1]


async def test_get_job_log_tail_errors_and_jobinfo(mcp: Client, sim: Simulator) -> None:
    sim.state()
    target = next(j for j in sim.plan.jobs if j.status == "ABEND")
    log = await call(mcp, "get_job_log", {"job": target.id, "tail": 5})
    assert len(log["lines"]) == 5 and log["lines"][-1]["n"] == log["total_lines"]
    assert log["jobinfo"]["exit_status"] == target.rc
    assert log["first_errors"] and "ERROR" in json.dumps(log["first_errors"]).upper()
    found = await call(mcp, "get_job_log", {"job": target.id, "search": "return code", "context": 0})
    assert found["matches"] >= 1 and all("return code" in ln["text"] for ln in found["lines"])


async def test_job_dependencies_successors_match_the_plan(mcp: Client, sim: Simulator) -> None:
    sim.state()
    plan = sim.plan
    target = next(
        j
        for j in plan.jobs
        if any(plan.jobs[d.target] is j for k in plan.jobs for d in k.deps if d.type in ("INTERNAL", "EXTERNAL_JOB"))
    )
    direct = {
        k.id for k in plan.jobs for d in k.deps if d.type in ("INTERNAL", "EXTERNAL_JOB") and d.target == target.idx
    }
    result = await call(mcp, "job_dependencies", {"job": target.id, "direction": "successors", "depth": 1})
    assert {n["id"] for n in result["nodes"]} == direct
    preds = await call(mcp, "job_dependencies", {"job": next(iter(direct)), "direction": "predecessors"})
    assert target.id in {n["id"] for n in preds["nodes"]}


async def test_job_streams_workstations_resources_prompts(mcp: Client, sim: Simulator) -> None:
    streams = await call(mcp, "find_job_streams", {"limit": 5})
    assert streams["total"] == len(sim.plan.streams)
    one = await call(mcp, "get_job_stream", {"job_stream": streams["job_streams"][0]["id"]})
    assert one["jobs"] and all(j["job_stream_id"] == one["job_stream"]["id"] for j in one["jobs"])
    ws = await call(mcp, "list_workstations", {})
    assert ws["total"] == len(sim.plan.workstations)
    assert all(w["linked"] == sim.plan.ws_by_id[w["id"]].linked or w["type"] == "MANAGER" for w in ws["workstations"])
    res = await call(mcp, "list_resources", {})
    assert res["returned"] == len(sim.plan.resources)
    prompts = await call(mcp, "list_prompts", {"waiting_only": True})
    assert prompts["waiting_for_reply"] == sum(p.answer is None for p in sim.plan.prompts) == prompts["returned"]


async def test_resources_and_templates(mcp: Client, sim: Simulator) -> None:
    templates = {t.uri_template: t for t in (await mcp.list_resource_templates()).resource_templates}
    assert set(templates) == {
        "hwa://{engine}/plan/summary",
        "hwa://{engine}/job/{job_id}",
        "hwa://{engine}/jobstream/{jobstream_id}",
        "hwa://{engine}/job/{job_id}/log",
        "kb://doc/{doc_id}",
    }
    assert all(t.description for t in templates.values())
    job = sim.plan.jobs[0]
    body = json.loads((await mcp.read_resource(f"hwa://demo/job/{job.id}")).contents[0].text)  # type: ignore[union-attr]
    assert body["job"]["id"] == job.id and body["engine"] == "demo"


async def test_instructions_explain_the_investigation(mcp: Client) -> None:
    assert mcp.instructions and "find_jobs" in mcp.instructions and "next_cursor" in mcp.instructions


async def test_legacy_protocol_era_is_served(app: App) -> None:
    async with Client(app.server, mode="legacy") as legacy:
        assert legacy.protocol_version.startswith("2025")
        s = await call(legacy, "plan_summary", {})
        assert s["total_jobs"] > 0


BAD_INPUT = [
    ("get_job", {"job": "not-a-job"}, "neither a job id"),
    ("get_job", {"job": "00000000-0000-4000-8000-000000000000"}, "No job with the provided ID"),
    ("get_job", {"job": "NOPE.NOTHING"}, "No job 'NOPE.NOTHING'"),
    ("get_job", {"job": "X", "engine": "prod"}, "No engine named 'prod'"),
    ("get_job", {"job": "A.B' OR name LIKE '@"}, "neither a job id"),
    ("find_jobs", {"name": "A' OR '1'='1"}, "not valid"),
    ("find_jobs", {"name": "JOB\x00\x1b[2J"}, "not valid"),
    ("find_jobs", {"name": "ЈОВ_ÜNÏCODE"}, "not valid"),
    ("find_jobs", {"status": ["BROKEN"]}, "Unknown status"),
    ("find_jobs", {"limit": 10**9}, "'limit' must be at most 200"),
    ("find_jobs", {"limit": -5}, "'limit' must be at least 1"),
    ("find_jobs", {"cursor": "garbage!!"}, "cursor is not valid"),
    ("find_jobs", {"sort": "password"}, "Cannot sort"),
    ("find_jobs", {"since": "yesterday"}, "not an ISO-8601 time"),
    ("find_jobs", {"since": "2026-11-24T06:00:00Z", "until": "2026-11-23T06:00:00Z"}, "until is before since"),
    ("get_job_log", {"job": "X.Y", "from_line": 9, "to_line": 3}, "before from_line"),
    ("get_job_log", {"job": "X.Y", "search": "(unclosed"}, "not a valid regular expression"),
    ("job_dependencies", {"job": "X.Y", "depth": 99}, "'depth' must be at most 5"),
    ("get_job_stream", {"job_stream": "bad name!"}, "neither a job stream id"),
]


@pytest.mark.parametrize(("tool", "args", "expected"), BAD_INPUT)
async def test_bad_input_gets_a_clear_sentence(mcp: Client, tool: str, args: dict[str, object], expected: str) -> None:
    text = await error_text(mcp, tool, args)
    assert expected in text


async def test_cursor_from_another_query_is_refused(mcp: Client) -> None:
    page = await call(mcp, "find_jobs", {"status": ["SUCC"], "limit": 5})
    text = await error_text(mcp, "find_jobs", {"status": ["ABEND"], "cursor": page["next_cursor"]})
    assert "different query" in text


async def test_unexpected_crash_gives_a_correlation_id_not_the_exception(
    app: App, mcp: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(**_: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(app.service, "plan_summary", boom)
    text = await error_text(mcp, "plan_summary", {})
    assert "correlation id" in text and "secret internal detail" not in text


async def test_a_failed_call_loses_nothing_for_the_next_one(mcp: Client) -> None:
    await error_text(mcp, "get_job", {"job": "bad"})
    assert (await call(mcp, "plan_summary", {}))["total_jobs"] > 0
