"""Every payload the simulator renders validates against the real spec (strictly: no field a real
engine does not send), for a 2,000-job plan in a spread of states."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from resync_mcp.clock import FakeClock
from resync_mcp.simulator import Simulator
from resync_mcp.simulator.model import KINDS
from tests.contract.spec import validate

pytestmark = pytest.mark.anyio
API = "/twsd/api/v2"
PAGES = {
    "/plan/job": "PaginatedResponseV221",
    "/plan/jobstream": "PaginatedResponseV223",
    "/plan/workstation": "PaginatedResponseV226",
    "/plan/resource": "PaginatedResponseV225",
    "/plan/prompt": "PaginatedResponseV224",
}
MODEL_PAGES = {
    "calendar": "PaginatedResponseV22",
    "credentials": "PaginatedResponseV23",
    "domain": "PaginatedResponseV24",
    "folder": "PaginatedResponseV25",
    "jobdefinition": "PaginatedResponseV27",
    "jobstream": "PaginatedResponseV28",
    "prompt": "PaginatedResponseV29",
    "resource": "PaginatedResponseV210",
    "variable": "PaginatedResponseV212",
    "variabletable": "PaginatedResponseV213",
    "workloadapplicationtemplate": "PaginatedResponseV214",
    "workstationclass": "PaginatedResponseV215",
    "workstation": "PaginatedResponseV216",
}


class Tally:
    def __init__(self) -> None:
        self.objects = 0
        self.invalid: list[str] = []
        self.kinds: Counter[str] = Counter()

    def check(self, doc: Any, schema: str) -> None:
        self.objects += 1
        self.kinds[schema] += 1
        errors = validate(doc, schema, strict=True)
        if errors:
            self.invalid.append(f"{schema}: {errors[:3]}")


async def _pages(http: httpx.AsyncClient, path: str, tally: Tally, schema: str, **kw: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    url: str | None = f"{API}{path}?limit=500"
    while url:
        r = await http.get(url, **kw)
        assert r.status_code == 200, (url, r.text)
        body = r.json()
        tally.check(body, schema)
        items += body["results"]
        url = body.get("next")
    return items


async def _spread_states(http: httpx.AsyncClient, sim: Simulator) -> None:
    """Operator actions and later plan times, so payloads cover held, killed, rerun, submitted,
    aliased, answered and cancelled objects, not only a freshly generated plan."""
    sim.state()
    jobs = sim.plan.jobs
    held = next(j for j in jobs if j.status == "READY")
    running = next(j for j in jobs if j.status == "EXEC")
    failed = next(j for j in jobs if j.status == "ABEND")
    json = {"Content-Type": "application/json"}
    assert (await http.put(f"{API}/plan/job/{held.id}/action/hold")).status_code == 200
    assert (await http.put(f"{API}/plan/job/{running.id}/action/kill")).status_code == 200
    rerun = await http.put(f"{API}/plan/job/run/{failed.run_ids[-1]}/action/rerun", content=b"{}", headers=json)
    assert rerun.status_code == 200
    model = (await http.get(f"{API}/model/jobstream?limit=1")).json()["results"][0]["def"]["id"]
    submitted = await http.post(f"{API}/plan/jobstream/{model}/submit", json={"alias": "AGAIN1"})
    assert submitted.status_code == 200
    adhoc = {"workstationKey": "/MDM", "task": {"UNIX": {"taskString": "sleep 120", "isCommand": "true"}}}
    assert (await http.post(f"{API}/plan/job/submit-ad-hoc-job", json=adhoc)).status_code == 200
    sim.advance(3 * 3600)


async def test_every_simulator_payload_validates_against_the_spec_for_a_2000_job_plan() -> None:
    sim = Simulator.create(11, 2000, FakeClock())
    tally = Tally()
    async with httpx.AsyncClient(transport=sim.transport(), base_url="http://sim", auth=("u", "p")) as http:
        await _spread_states(http, sim)
        whole = {"headers": {"scope": "WHOLE"}}
        jobs = await _pages(http, "/plan/job", tally, PAGES["/plan/job"], **whole)
        await _pages(http, "/plan/job", tally, PAGES["/plan/job"])  # default scope: no dependencies
        assert len(jobs) == len(sim.plan.jobs) >= 2000
        for job in jobs:
            tally.check((await http.get(f"{API}/plan/job/{job['id']}")).json(), "JobInPlanV2")
        for stream in await _pages(http, "/plan/jobstream", tally, PAGES["/plan/jobstream"]):
            tally.check((await http.get(f"{API}/plan/jobstream/{stream['id']}")).json(), "JobStreamInPlanV2")
        singles = {"/plan/workstation": "WorkstationInPlanV2", "/plan/resource": "ResourceInPlanV2"}
        for path, schema in (singles | {"/plan/prompt": "PromptInPlanV2"}).items():
            for item in await _pages(http, path, tally, PAGES[path]):
                tally.check((await http.get(f"{API}{path}/{item['id']}")).json(), schema)
        tally.check((await http.get(f"{API}/plan/job/count?grouping_filters=status")).json(), "GroupedCountResponse")
        tally.check((await http.get(f"{API}/engine/info")).json(), "EngineInfoV2")
        tally.check((await http.get(f"{API}/engine/users")).json(), "UsersV2")
        tally.check((await http.get(f"{API}/engine/groups")).json(), "GroupsV2")
        tally.check((await http.get(f"{API}/objects-info")).json(), "{ObjectInfo}")
        for kind, schema in MODEL_PAGES.items():
            for obj in await _pages(http, f"/model/{kind}", tally, schema):
                doc = (await http.get(f"{API}/model/{kind}/{obj['def']['id']}")).json()
                tally.check(doc, f"ModelObject{KINDS[kind]}")
    assert tally.invalid == [], f"{len(tally.invalid)} of {tally.objects} invalid: {tally.invalid[:5]}"
    assert tally.kinds["JobInPlanV2"] == len(jobs) and tally.kinds["ModelObjectJobStream"] > 0


async def test_model_listings_page_like_the_plan_with_the_specs_default(http: httpx.AsyncClient) -> None:
    everything = (await http.get(f"{API}/model/jobdefinition")).json()
    assert "next" not in everything and everything["count"] == len(everything["results"]) > 10  # default 10,000
    page = (await http.get(f"{API}/model/jobdefinition", params={"limit": 5, "offset": 5})).json()
    assert page["results"] == everything["results"][5:10]
    assert page["next"].endswith("limit=5&offset=10") and page["previous"].endswith("limit=5&offset=0")
    one = everything["results"][3]
    assert (await http.get(f"{API}/model/jobdefinition/{one['def']['id']}")).json() == one
    missing = await http.get(f"{API}/model/jobdefinition/{'6d19eaf1-c9da-3799-96ed-131f07832a01'}")
    assert missing.status_code == 404 and "definition has been found" in missing.json()["message"]
    for path in ("/engine/users", "/engine/groups", "/objects-info?object_type=JOB_IN_PLAN", "/model/calendar"):
        assert (await http.get(f"{API}{path}")).status_code == 200, path
    assert (await http.get(f"{API}/objects-info", params={"object_type": "NOPE"})).status_code == 400
