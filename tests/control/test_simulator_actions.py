"""The simulated engine's write side over HTTP: legal and illegal states, status codes and
error codes as the real engine answers them, and actions that really change the plan."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from resync_mcp.clock import FakeClock
from resync_mcp.simulator import Simulator
from resync_mcp.simulator.model import model_id
from resync_mcp.simulator.plan import SimJob

pytestmark = pytest.mark.anyio
API = "/twsd/api/v2"


def first(sim: Simulator, status: str) -> SimJob:
    sim.state()
    return next(j for j in sim.plan.jobs if j.status == status)


def successors(sim: Simulator, job: SimJob) -> list[SimJob]:
    return [j for j in sim.plan.jobs if any(d.type == "INTERNAL" and d.target == job.idx for d in j.deps)]


async def test_rerun_needs_json_creates_a_new_run_and_frees_successors(
    sim: Simulator, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    sim.state()
    job = next(j for j in sim.plan.jobs if j.status == "ABEND" and successors(sim, j))
    waiting = successors(sim, job)
    assert all(s.status == "HOLD" for s in waiting)
    run = job.run_ids[-1]
    assert (await http.put(f"{API}/plan/job/run/{run}/action/rerun")).status_code == 415
    r = await http.put(f"{API}/plan/job/run/{run}/action/rerun", json={})
    assert r.status_code == 200 and r.json()["id"] == job.run_ids[-1] != run
    clock.advance(job.duration_s + 600)
    sim.state()
    assert job.status == "SUCC"
    assert any(s.status not in ("HOLD",) for s in waiting)  # released by the successful rerun
    runs = (await http.get(f"{API}/plan/job/{job.id}")).json()["jobruns"]
    assert [r["compositeStatus"]["status"] for r in runs][-2:] == ["ABEND", "SUCC"]


async def test_wrong_state_is_http_500_with_awsbin076e(sim: Simulator, http: httpx.AsyncClient) -> None:
    done = first(sim, "SUCC")
    r = await http.put(f"{API}/plan/job/{done.id}/action/kill")
    assert r.status_code == 500 and "AWSBIN076E" in r.text
    r = await http.put(f"{API}/plan/job/{done.id}/action/hold")
    assert r.status_code == 500 and "AWSBIN076E" in r.text


async def test_unknown_ids_wrong_methods_and_bad_bodies(sim: Simulator, http: httpx.AsyncClient) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    assert (await http.put(f"{API}/plan/job/{missing}/action/hold")).status_code == 404
    job = first(sim, "EXEC")
    assert (await http.post(f"{API}/plan/job/{job.id}/action/kill")).status_code == 405
    r = await http.put(
        f"{API}/plan/job/{job.id}/action/hold", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400


async def test_kill_ends_a_running_job_abend_and_confirm_moves_it(
    sim: Simulator, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    job = first(sim, "EXEC")
    assert (await http.put(f"{API}/plan/job/{job.id}/action/kill")).status_code == 200
    clock.advance(60)
    sim.state()
    assert job.status == "ABEND"
    r = await http.put(f"{API}/plan/job/{job.id}/action/confirm-succ", json={"conditions": ["OK"]})
    assert r.status_code == 200
    sim.state()
    assert job.status == "SUCC"


async def test_hold_then_release_and_release_dependencies(sim: Simulator, http: httpx.AsyncClient) -> None:
    sim.state()
    waiting = next(j for j in sim.plan.jobs if j.status == "HOLD" and j.deps)
    assert (await http.put(f"{API}/plan/job/{waiting.id}/action/hold")).status_code == 200
    assert waiting.held
    dep = waiting.deps[0]
    r = await http.put(f"{API}/plan/job/{waiting.id}/action/release-dependencies", json={"dependencies": [{"id": "x"}]})
    assert r.status_code == 404
    r = await http.put(
        f"{API}/plan/job/{waiting.id}/action/release-dependencies", json={"dependencies": [{"id": dep.id}]}
    )
    assert r.status_code == 200 and dep.id in waiting.released_deps
    assert (await http.put(f"{API}/plan/job/{waiting.id}/action/release")).status_code == 200
    assert not waiting.held


async def test_submits_add_to_the_plan_and_a_duplicate_is_409(sim: Simulator, http: httpx.AsyncClient) -> None:
    sim.state()
    before_streams, before_jobs = len(sim.plan.streams), len(sim.plan.jobs)
    model = sim.plan.streams[2]
    listed = (await http.get(f"{API}/model/jobstream", params={"model_filter": f"/@/@#/@/{model.name}"})).json()
    mid = listed["results"][0]["def"]["id"]
    assert mid == model_id(sim.plan.seed, "jobstream", model.name)
    r = await http.post(f"{API}/plan/jobstream/{mid}/submit", json={"alias": "AGAIN"})
    assert r.status_code == 200 and len(sim.plan.streams) == before_streams + 1
    assert len(sim.plan.jobs) == before_jobs + len(model.jobs)
    new = r.json()["results"][0]["id"]
    assert (await http.get(f"{API}/plan/jobstream/{new}")).json()["name"] == "AGAIN"
    task = {"workstationKey": "/MDM", "task": {"UNIX": {"taskString": "sleep 120", "userName": "wauser"}}}
    r = await http.post(f"{API}/plan/job/submit-ad-hoc-job", json=task)
    assert r.status_code == 200 and r.json()["id"] == "MDM;JOBS;SLEEP"  # a composite key, not a UUID
    assert (await http.post(f"{API}/plan/job/submit-ad-hoc-job", json=task)).status_code == 409


async def test_a_yes_reply_releases_the_prompts_holders(sim: Simulator, http: httpx.AsyncClient) -> None:
    prompt = sim.plan.prompts[0]
    prompt.answer = None  # asked, not answered yet
    sim.plan.changed()
    sim.state()
    r = await http.put(f"{API}/plan/prompt/{prompt.id}/action/reply", json={"answer": True})
    assert r.status_code == 200 and prompt.answer is True
    again = await http.put(f"{API}/plan/prompt/{prompt.id}/action/reply", json={"answer": False})
    assert again.status_code == 500 and "AWSBIN076E" in again.text
    holders = [j for j in sim.plan.jobs if any(d.type == "PROMPT" and d.ref == prompt.id for d in j.deps)]
    assert all(sim.plan.dep_satisfied(d) for j in holders for d in j.deps if d.type == "PROMPT")


async def test_workstation_actions_change_what_can_start(sim: Simulator, http: httpx.AsyncClient) -> None:
    ws = sim.plan.workstations[1]
    assert (
        await http.put(f"{API}/plan/workstation/{ws.id}/action/update-fence", params={"fence": 200})
    ).status_code == 400
    assert (
        await http.put(f"{API}/plan/workstation/{ws.id}/action/update-limit", params={"limit": 0})
    ).status_code == 200
    assert ws.limit == 0
    assert (await http.put(f"{API}/plan/workstation/{ws.id}/action/unlink")).status_code == 200
    assert not ws.linked


async def test_every_write_is_recorded_with_its_headers_but_not_credentials(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    job = first(sim, "EXEC")
    headers: dict[str, Any] = {"Justification-Description": "disk full", "Justification-Ticket-Num": "INC42"}
    await http.put(f"{API}/plan/job/{job.id}/action/kill", headers=headers)
    await http.get(f"{API}/plan/job/{job.id}")
    assert len(sim.writes) == 1
    w = sim.writes[0]
    assert w["method"] == "PUT" and w["path"].endswith("/action/kill")
    assert w["headers"]["justification-ticket-num"] == "INC42" and "authorization" not in w["headers"]
    listed = (await http.get("/_sim/writes")).json()
    assert listed["count"] == 1


async def test_bulk_actions_honour_max_object_affected_and_report_each_job(
    sim: Simulator, http: httpx.AsyncClient
) -> None:
    sim.state()
    stream = next(s for s in sim.plan.streams if sum(sim.plan.jobs[i].status == "HOLD" for i in s.jobs) >= 2)
    oql = f"jobStreamName = '{stream.name}'"
    r = await http.put(f"{API}/plan/job/action/hold", params={"oql": oql})  # the engine's default is 1
    assert r.status_code == 400 and "max_object_affected" in r.text
    r = await http.put(f"{API}/plan/job/action/hold", params={"oql": oql, "max_object_affected": 50})
    body = r.json()
    held = {x["id"] for x in body["successfulResourceResponses"]}
    refused = {x["id"] for x in body["failedResourceResponses"]}
    assert r.status_code == 200 and held | refused == {sim.plan.jobs[i].id for i in stream.jobs}
    assert all("AWSBIN076E" in x["message"] for x in body["failedResourceResponses"])
    assert all(sim.plan.by_id[i].held for i in held)
