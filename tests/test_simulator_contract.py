"""The simulator speaks the HWA REST API v2 wire format: paths, fields, paging, OQL, errors."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest

from resync_mcp.clock import FakeClock
from resync_mcp.simulator import Credentials, Simulator, generate_plan
from resync_mcp.simulator.plan import TERMINAL_OK
from resync_mcp.tws.models import JobInPlanV2, JobStreamInPlanV2, PromptInPlanV2, ResourceInPlanV2, WorkstationInPlanV2
from resync_mcp.tws.status import COMMON_OF

pytestmark = pytest.mark.anyio
API = "/twsd/api/v2"


async def test_job_query_returns_paginated_response_with_real_field_names(http: httpx.AsyncClient) -> None:
    r = await http.get(f"{API}/plan/job", params={"limit": 2})
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"count", "next", "results"}
    assert body["next"].endswith("limit=2&offset=2")
    job = body["results"][0]
    for key in (
        "id",
        "name",
        "workstation",
        "jobStreamName",
        "jobStreamId",
        "schedTime",
        "priority",
        "lastRunCommonStatus",
        "lastRunCompositeStatus",
        "jobruns",
        "jobOptions",
        "jobStatusFlags",
    ):
        assert key in job, key
    assert "dependencies" not in job  # "not filled if result of a query" (default scope)
    run = job["jobruns"][-1]
    assert {"id", "commonStatus", "compositeStatus", "timeInfo"} <= set(run)
    JobInPlanV2.model_validate(job)


async def test_paging_walks_every_job_exactly_once(http: httpx.AsyncClient, sim: Simulator) -> None:
    seen: list[str] = []
    url: str | None = f"{API}/plan/job?limit=97"
    previous_seen = False
    while url:
        body = (await http.get(url)).json()
        seen += [j["id"] for j in body["results"]]
        previous_seen |= "previous" in body
        url = body.get("next")
    assert len(seen) == len(set(seen)) == len(sim.plan.jobs)
    assert previous_seen


async def test_include_count_false_omits_the_total(http: httpx.AsyncClient) -> None:
    body = (await http.get(f"{API}/plan/job", params={"limit": 1}, headers={"Include-Count": "false"})).json()
    assert "count" not in body and len(body["results"]) == 1


async def test_scope_whole_fills_dependencies(http: httpx.AsyncClient) -> None:
    body = (await http.get(f"{API}/plan/job", params={"limit": 50}, headers={"scope": "WHOLE"})).json()
    assert all("dependencies" in j for j in body["results"])


@pytest.mark.parametrize(
    ("oql", "check"),
    [
        ("lastRunCommonStatus = 'ERROR'", lambda j: j["lastRunCommonStatus"] == "ERROR"),
        ("lastRunCompositeStatus.status != 'SUCC'", lambda j: j["lastRunCompositeStatus"]["status"] != "SUCC"),
        ("priority > 10", lambda j: j["priority"] > 10),
        ("priority < 20", lambda j: j["priority"] < 20),
        ("name LIKE 'FIN@'", lambda j: j["name"].startswith("FIN")),
        (
            "lastRunCompositeStatus.status IN ['ABEND', 'FAIL']",
            lambda j: j["lastRunCompositeStatus"]["status"] in ("ABEND", "FAIL"),
        ),
        (
            "(name LIKE 'HR@' OR name LIKE 'OPS@') AND jobOptions.critical = false",
            lambda j: j["name"][:2] in ("HR", "OP") and not j["jobOptions"]["critical"],
        ),
        ("jobruns.returnCode > 0", lambda j: (j["jobruns"][-1].get("returnCode") or 0) > 0),
    ],
)
async def test_oql_filters_select_exactly_the_matching_jobs(http: httpx.AsyncClient, oql: str, check: object) -> None:
    every = (await http.get(f"{API}/plan/job")).json()["results"]
    got = (await http.get(f"{API}/plan/job", params={"oql": oql})).json()
    expected = [j["id"] for j in every if check(j)]  # type: ignore[operator]
    assert got["count"] == len(expected) > 0
    assert sorted(j["id"] for j in got["results"]) == sorted(expected)


async def test_order_by_sorts_ascending_and_descending(http: httpx.AsyncClient) -> None:
    asc = (await http.get(f"{API}/plan/job", params={"oql": "ORDER BY name ASC", "limit": 50})).json()["results"]
    desc = (await http.get(f"{API}/plan/job", params={"oql": "ORDER BY name DESC", "limit": 50})).json()["results"]
    assert [j["name"] for j in asc] == sorted(j["name"] for j in asc)
    assert [j["name"] for j in desc] == sorted((j["name"] for j in desc), reverse=True)
    assert asc[0]["name"] < desc[0]["name"]


@pytest.mark.parametrize(
    "oql",
    ["key.name = 'X'", "name = 'X", "name ==", "(name = 'A'", "name = 'A' ORDER name", "name ~ 'A'", "name IN ['A'"],
)
async def test_bad_oql_is_400_oql_filter_syntax_error(http: httpx.AsyncClient, oql: str) -> None:
    r = await http.get(f"{API}/plan/job", params={"oql": oql})
    assert r.status_code == 400
    assert r.json()["messageCode"] == "OQL_FILTER_SYNTAX_ERROR"


async def test_plan_filter_selects_by_workstation_and_stream(http: httpx.AsyncClient, sim: Simulator) -> None:
    ws = sim.plan.workstations[1].name
    body = (await http.get(f"{API}/plan/job", params={"plan_filter": f"/{ws}#/"})).json()
    expected = sum(1 for j in sim.plan.jobs if sim.plan.streams[j.stream].workstation == 1)
    assert body["count"] == expected > 0
    stream = sim.plan.streams[3]
    body = (await http.get(f"{API}/plan/job", params={"plan_filter": f"/@/@#/@/{stream.name}.@"})).json()
    assert sorted(j["id"] for j in body["results"]) == sorted(sim.plan.jobs[i].id for i in stream.jobs)


async def test_count_groups_by_status_and_matches_query(http: httpx.AsyncClient) -> None:
    counted = (await http.get(f"{API}/plan/job/count", params={"grouping_filters": "status"})).json()
    every = (await http.get(f"{API}/plan/job")).json()["results"]
    expected = Counter(j["lastRunCompositeStatus"]["status"] for j in every)
    assert counted["count"] == len(every)
    assert counted["groupedCount"] == {f"status:{k}": v for k, v in expected.items()}


async def test_missing_objects_are_404_with_the_spec_message(http: httpx.AsyncClient) -> None:
    r = await http.get(f"{API}/plan/job/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404
    assert r.json()["message"] == "No job with the provided ID was found in the plan."
    assert (await http.get(f"{API}/plan/jobstream/00000000-0000-4000-8000-000000000000")).status_code == 404
    assert (await http.get(f"{API}/plan/nothing")).status_code == 404


async def test_wrong_method_is_405_and_missing_auth_is_401(sim: Simulator, http: httpx.AsyncClient) -> None:
    assert (await http.post(f"{API}/plan/job")).status_code == 405
    async with httpx.AsyncClient(transport=sim.transport(), base_url="http://x") as anon:
        assert (await anon.get(f"{API}/plan/job")).status_code == 401


async def test_configured_credentials_are_enforced(clock: FakeClock) -> None:
    sim = Simulator.create(1, 20, clock, credentials=Credentials("ops", "pw"))
    async with httpx.AsyncClient(transport=sim.transport(), base_url="http://x", auth=("ops", "wrong")) as c:
        assert (await c.get(f"{API}/plan/job")).status_code == 401
    async with httpx.AsyncClient(transport=sim.transport(), base_url="http://x", auth=("ops", "pw")) as c:
        assert (await c.get(f"{API}/plan/job")).status_code == 200


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 10001}, {"offset": -1}, {"limit": "x"}])
async def test_out_of_range_paging_is_400(http: httpx.AsyncClient, params: dict[str, object]) -> None:
    assert (await http.get(f"{API}/plan/job", params=params)).status_code == 400


async def test_other_object_types_validate_against_their_models(http: httpx.AsyncClient) -> None:
    for path, model in (
        ("jobstream", JobStreamInPlanV2),
        ("workstation", WorkstationInPlanV2),
        ("resource", ResourceInPlanV2),
        ("prompt", PromptInPlanV2),
    ):
        body = (await http.get(f"{API}/plan/{path}", params={"limit": 5})).json()
        assert body["count"] > 0, path
        item = model.model_validate(body["results"][0])
        one = (await http.get(f"{API}/plan/{path}/{item.id}")).json()
        assert one["id"] == item.id
    info = (await http.get(f"{API}/engine/info")).json()
    assert info["fullVersion"].startswith("10.2")


async def test_job_log_is_text_with_jobinfo_trailer_and_line_ranges(http: httpx.AsyncClient, sim: Simulator) -> None:
    sim.state()
    job = next(j for j in sim.plan.jobs if j.status == "ABEND")
    run_id = job.run_ids[-1]
    r = await http.get(f"{API}/plan/job/run/{run_id}/joblog")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert "= JOBINFO" in r.text and f"Exit Status           : {job.rc}" in r.text
    part = await http.get(f"{API}/plan/job/run/{run_id}/joblog", params={"from_line": 2, "to_line": 4})
    assert part.text.splitlines() == r.text.splitlines()[1:4]
    bad = await http.get(f"{API}/plan/job/run/{run_id}/joblog", params={"from_line": 5, "to_line": 2})
    assert bad.status_code == 400


async def test_common_status_is_consistent_with_internal_status(http: httpx.AsyncClient) -> None:
    every = (await http.get(f"{API}/plan/job")).json()["results"]
    for j in every:
        internal = j["lastRunCompositeStatus"]["status"]
        expected = "HELD" if j["priority"] == 0 and internal == "HOLD" else COMMON_OF[internal]
        assert j["lastRunCommonStatus"] == expected, j["name"]
    assert {"SUCC", "ABEND", "HOLD"} <= {j["lastRunCompositeStatus"]["status"] for j in every}


def test_no_job_starts_before_its_predecessors_succeed(sim: Simulator) -> None:
    sim.state()
    plan = sim.plan
    for job in plan.jobs:
        if job.start is None:
            continue
        for dep in job.deps:
            if dep.type in ("INTERNAL", "EXTERNAL_JOB"):
                pred = plan.jobs[dep.target]
                assert pred.status in TERMINAL_OK and pred.end is not None and pred.end <= job.start


def test_advancing_plan_time_moves_jobs_forward_deterministically(clock: FakeClock) -> None:
    a = Simulator.create(3, 400, clock)
    b = Simulator.create(3, 400, clock)
    before = Counter(j.status for j in (a.state(), a.plan)[1].jobs)
    a.advance(6 * 3600)
    b.advance(6 * 3600)
    a.state()
    b.state()
    after = Counter(j.status for j in a.plan.jobs)
    assert after["SUCC"] > before["SUCC"]
    assert [j.status for j in a.plan.jobs] == [j.status for j in b.plan.jobs]


def test_same_seed_same_plan_other_seed_other_plan() -> None:
    start = datetime(2026, 11, 23, 18, tzinfo=UTC)
    p1, p2, p3 = generate_plan(5, 300, start), generate_plan(5, 300, start), generate_plan(6, 300, start)
    assert [(j.id, j.name, j.rc) for j in p1.jobs] == [(j.id, j.name, j.rc) for j in p2.jobs]
    assert [j.id for j in p1.jobs] != [j.id for j in p3.jobs]
    assert len(p1.jobs) == 300


@pytest.mark.parametrize("n", [10, 100_000])
def test_plan_sizes_from_ten_to_a_hundred_thousand(n: int) -> None:
    plan = generate_plan(1, n, datetime(2026, 11, 23, 18, tzinfo=UTC))
    assert len(plan.jobs) == n
    kinds = {d.type for j in plan.jobs for d in j.deps}
    if n == 100_000:
        assert kinds == {"INTERNAL", "EXTERNAL_JOB", "EXTERNAL_JOBSTREAM", "RESOURCE", "PROMPT", "FILE"}
        assert {w.type for w in plan.workstations} >= {"MANAGER", "FTA", "AGENT", "POOL"}
