"""Action legality follows the engine: what the lab saw accepted is accepted by the simulator and
never refused by the client; what the engine refuses comes back as a wrong state."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mcp import Client

from resync_mcp.app import build_app
from resync_mcp.clock import FakeClock
from resync_mcp.config import Settings
from resync_mcp.simulator import Simulator
from tests.conftest import JOBS, SEED, call, error_text

pytestmark = pytest.mark.anyio
API = "/twsd/api/v2"
ADHOC = {"workstationKey": "/MDM", "task": {"UNIX": {"taskString": "sleep 120", "isCommand": "true"}}}


async def _adhoc(http: httpx.AsyncClient, sim: Simulator) -> Any:
    r = await http.post(f"{API}/plan/job/submit-ad-hoc-job", json=ADHOC)
    assert r.status_code == 200 and r.json() == {"id": "MDM;JOBS;SLEEP"}
    sim.state()
    return next(j for j in sim.plan.jobs if j.name == "SLEEP")


@pytest.mark.parametrize(
    ("start", "mode", "wait_s"), [("HOLD", "HOLD", 0), ("READY", "READY", 0), ("EXEC", "READY", 60)]
)
async def test_hold_kill_confirm_succ_on_a_fresh_adhoc_job_is_accepted_from_any_start(
    clock: FakeClock, start: str, mode: str, wait_s: int
) -> None:
    """LAB-SUB: hold, kill, confirm-succ on a freshly submitted job each answered 200."""
    sim = Simulator.create(SEED, JOBS, clock, adhoc_state=mode)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=sim.transport(), base_url="http://sim", auth=("u", "p")) as http:
        job = await _adhoc(http, sim)
        sim.advance(wait_s)
        sim.state()
        assert job.status == start
        for action in ("hold", "kill", "confirm-succ"):
            r = await http.put(f"{API}/plan/job/{job.id}/action/{action}")
            assert r.status_code == 200 and r.json()["id"] == job.id, (start, action, r.text)
        sim.advance(600)
        sim.state()
        assert job.status == "SUCC"
        again = await http.put(f"{API}/plan/job/{job.id}/action/confirm-succ")  # LAB-PUT: already terminal
        assert again.status_code == 500 and "AWSBIN076E" in again.text


async def test_a_confirmation_while_the_job_runs_decides_how_it_ends(clock: FakeClock) -> None:
    sim = Simulator.create(SEED, JOBS, clock)
    sim.state()
    job = next(j for j in sim.plan.jobs if j.status == "EXEC" and j.rc == 0 and not j.confirm)
    async with httpx.AsyncClient(transport=sim.transport(), base_url="http://sim", auth=("u", "p")) as http:
        assert (await http.put(f"{API}/plan/job/{job.id}/action/confirm-abend")).status_code == 200
    sim.state()
    assert job.status == "EXEC"  # still running: the confirmation waits for the end
    sim.advance(job.duration_s + 60)
    sim.state()
    assert job.status == "ABEND"


async def test_the_adhoc_start_state_is_configurable(clock: FakeClock) -> None:
    for mode, expected in (("HOLD", "HOLD"), ("READY", "READY")):
        sim = Simulator.create(SEED, JOBS, clock, adhoc_state=mode)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=sim.transport(), base_url="http://sim", auth=("u", "p")) as http:
            job = await _adhoc(http, sim)
            assert job.status == expected
            if mode == "HOLD":  # LAB-RB: released, it runs and ends SUCC
                assert (await http.put(f"{API}/plan/job/{job.id}/action/release")).status_code == 200
                sim.advance(300)
                sim.state()
                assert job.status == "SUCC"


async def test_the_client_lets_the_lab_sequence_through_and_refuses_only_what_hwa_refuses(
    settings: Settings, clock: FakeClock
) -> None:
    sim = Simulator.create(SEED, JOBS, clock)
    app = build_app(settings, clock=clock, simulator=sim)
    async with Client(app.server) as mcp:

        async def act(tool: str, args: dict[str, Any]) -> dict[str, Any]:
            first = await call(mcp, tool, {**args, "reason": "lab sequence"})
            if first["outcome"] == "needs_confirmation":
                first = await call(
                    mcp, tool, {**args, "reason": "lab sequence", "confirmation_token": first["confirmation_token"]}
                )
            return first

        submitted = await act("submit_adhoc_job", {"workstation": "MDM", "command": "sleep 120"})
        job_id = submitted["engine_reference"].split(" = ")[1]
        for tool, extra in (("hold_job", {}), ("kill_job", {}), ("confirm_job", {"status": "SUCC"})):
            result = await act(tool, {"job": job_id, **extra})
            assert result["outcome"] == "done", (tool, result["message"])
        sim.advance(600)
        before = len(sim.writes)
        text = await error_text(mcp, "confirm_job", {"job": job_id, "status": "SUCC", "reason": "again"})
        assert "already ended SUCC" in text and "Nothing was sent" in text and len(sim.writes) == before
    assert [w["path"].rsplit("/", 1)[-1] for w in sim.writes] == ["submit-ad-hoc-job", "hold", "kill", "confirm-succ"]
    assert all("plan_id" not in w["query"] for w in sim.writes)  # the spec's writes declare no plan_id


def test_allowed_actions_are_the_engines_hint_when_it_sends_one() -> None:
    from resync_mcp.services.summaries import allowed_actions

    hint = ["RERUN_JOB", "CONFIRM_SUCC_JOB", "ADD_DEPENDENCIES_JOB", "OTHER"]
    assert allowed_actions("ABEND", False, 0, hint) == ["rerun", "confirm_succ", "add_dependencies"]
    assert "kill" in allowed_actions("EXEC", False, 0, []) and "kill" not in allowed_actions("ABEND", False, 0, None)
