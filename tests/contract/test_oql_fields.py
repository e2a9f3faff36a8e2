"""OQL as the lab saw it: ``ORDER BY key.name`` is accepted, a ``key.name`` filter is refused;
and the client still answers when an engine accepts only the fields confirmed on real engines."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mcp import Client

from resync_mcp.app import build_app
from resync_mcp.clock import FakeClock
from resync_mcp.config import Settings
from resync_mcp.simulator import Simulator
from resync_mcp.tws import oql
from tests.conftest import JOBS, SEED, call

pytestmark = pytest.mark.anyio
API = "/twsd/api/v2"


async def test_order_by_key_name_is_accepted_and_a_key_name_filter_is_refused(http: httpx.AsyncClient) -> None:
    ordered = await http.get(f"{API}/plan/job", params={"oql": "ORDER BY key.name ASC", "limit": 40})
    assert ordered.status_code == 200
    names = [j["name"] for j in ordered.json()["results"]]
    assert names == sorted(names)
    refused = await http.get(f"{API}/plan/job", params={"oql": "key.name = 'UPDATESTATS'"})
    assert refused.status_code == 400 and refused.json()["messageCode"] == "OQL_FILTER_SYNTAX_ERROR"
    by_name = await http.get(f"{API}/plan/job", params={"oql": f"name = '{names[0]}'"})
    assert by_name.status_code == 200 and by_name.json()["count"] >= 1


async def test_a_confirmed_fields_engine_refuses_the_rest_and_accepts_the_spec_examples(clock: FakeClock) -> None:
    sim = Simulator.create(SEED, JOBS, clock, oql_fields="confirmed")
    async with httpx.AsyncClient(transport=sim.transport(), base_url="http://sim", auth=("u", "p")) as http:
        for accepted in ("jobruns.compositeStatus.status = 'SUCC'", "name LIKE 'FIN@'", "folder IN ['/FINANCE/']"):
            assert (await http.get(f"{API}/plan/job", params={"oql": accepted})).status_code == 200, accepted
        for refused in ("jobStreamName = 'X'", "lastRunCommonStatus = 'ERROR'", "ORDER BY schedTime"):
            r = await http.get(f"{API}/plan/job", params={"oql": refused})
            assert r.status_code == 400 and r.json()["messageCode"] == "OQL_FILTER_SYNTAX_ERROR", refused
        streams = await http.get(f"{API}/plan/jobstream", params={"oql": "commonStatus = 'SUCCESSFUL'"})
        assert streams.status_code == 200


def _app(settings: Settings, clock: FakeClock, mode: str) -> tuple[Any, Simulator]:
    sim = Simulator.create(SEED, JOBS, clock, oql_fields=mode)  # type: ignore[arg-type]
    return build_app(settings, clock=clock, simulator=sim), sim


QUESTIONS: list[tuple[str, dict[str, Any]]] = [
    ("find_jobs", {"status": ["ERROR"], "limit": 200}),
    ("find_jobs", {"status": ["HOLD", "SUCCESSFUL"], "sort": "-sched_time", "limit": 30}),
    ("find_jobs", {"job_stream": "FIN*", "workstation": "AGT*", "limit": 100}),
    ("find_jobs", {"critical": True, "limit": 100}),
    ("find_jobs", {"workstation": "FTA*", "limit": 200}),  # the job's workstation, not its stream's
    ("find_jobs", {"job_stream": "RTL*", "sort": "name", "limit": 40}),
    ("find_job_streams", {"status": ["SUCC"], "limit": 50}),
]


async def test_the_client_answers_the_same_when_the_engine_refuses_unconfirmed_fields(
    settings: Settings, clock: FakeClock
) -> None:
    answers: dict[str, list[dict[str, Any]]] = {}
    sims: dict[str, Simulator] = {}
    for mode in ("paths", "confirmed"):
        app, sims[mode] = _app(settings, clock, mode)
        async with Client(app.server) as client:
            answers[mode] = [await call(client, tool, args) for tool, args in QUESTIONS]
            first = sims[mode]
            job = next(j for j in first.plan.jobs if any(d.type == "INTERNAL" for d in j.deps))
            pred = first.plan.jobs[next(d.target for d in job.deps if d.type == "INTERNAL")]
            deps = await call(client, "job_dependencies", {"job": pred.id, "direction": "successors", "depth": 2})
            answers[mode].append(deps)
    for (tool, args), strict, lenient in zip(QUESTIONS, answers["paths"], answers["confirmed"], strict=False):
        key = "jobs" if tool == "find_jobs" else "job_streams"
        assert [x["id"] for x in lenient[key]] == [x["id"] for x in strict[key]], (tool, args)
        assert lenient["total"] == strict["total"] and lenient["returned"] == strict["returned"]
        assert "refused filtering on" in lenient["note"] and "refused" not in (strict["note"] or "")
    succ_strict = {n["id"] for n in answers["paths"][-1]["nodes"]}
    succ_lenient = {n["id"] for n in answers["confirmed"][-1]["nodes"]}
    assert succ_lenient == succ_strict and succ_strict


def test_the_query_tree_renders_back_and_splits_on_confirmed_fields() -> None:
    text = "(lastRunCommonStatus IN ['ERROR', 'HELD'] OR name LIKE 'A@') AND folder = 'O''K' ORDER BY key.name DESC"
    query = oql.parse(text)
    assert oql.parse(query.text()) == query
    kept, rest = oql.split_and(query.where, lambda n: oql.Query(n).fields() <= oql.confirmed_fields("job"))
    assert kept == oql.Term("folder", "=", "O'K")
    assert rest is not None and oql.Query(rest).fields() == {"lastRunCommonStatus", "name"}
    doc = {"jobruns": [{"compositeStatus": {"status": "ABEND"}}, {"compositeStatus": {"status": "SUCC"}}]}
    match = oql.predicate(oql.parse("jobruns.compositeStatus.status = 'SUCC'").where, oql.path_getter)  # type: ignore[arg-type]
    assert match(doc) and not match({"jobruns": []})


def test_every_field_the_client_may_filter_locally_is_a_path_of_the_spec_schema() -> None:
    from tests.contract.spec import parse_type, schemas

    roots = {"job": "JobInPlanV2", "jobstream": "JobStreamInPlanV2", "workstation": "WorkstationInPlanV2"}
    for kind, root in roots.items():
        for path in oql.local_paths(kind) | oql.confirmed_fields(kind):
            schema = root
            for step in path.split("."):
                props = schemas()[schema]["properties"]
                if "oneOf" in schemas()[schema]:  # a dependency: any variant's property
                    props = {
                        k: v
                        for var in schemas()[schema]["oneOf"].values()
                        for k, v in schemas()[var]["properties"].items()
                    }
                assert step in props, f"{kind}: {path} is not a V2 path ({step} not in {schema})"
                schema = parse_type(props[step])[0].strip("[]{}")
