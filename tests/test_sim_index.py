"""The simulator's indexed selection answers exactly what the plain scan answers, for random OQL
over the fields it indexes (and others beside them), and its memo never serves a selection from
before an action changed the plan."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resync_mcp.clock import FakeClock
from resync_mcp.simulator import Simulator, render
from resync_mcp.simulator.oql import Index, select_objects
from resync_mcp.tws.oql import Bool, Term
from resync_mcp.tws.oql import render as oql_text

SIM = Simulator.create(5, 600, FakeClock())
NOW = SIM.state()
FIELDS = render.job_fields(SIM.plan, NOW)
INDEX = Index(SIM.plan.jobs, FIELDS)
VALUES: dict[str, list[Any]] = {
    f: sorted(
        {
            str(v)
            for j in SIM.plan.jobs[:200]
            for v in (FIELDS[f](j) if isinstance(FIELDS[f](j), list) else [FIELDS[f](j)])
            if v is not None
        }
    )[:12]
    for f in (
        "name",
        "jobStreamName",
        "workstation",
        "folder",
        "lastRunCommonStatus",
        "jobruns.compositeStatus.status",
        "dependencies.jobId",
        "jobStreamId",
    )
}


def _value(field: str) -> st.SearchStrategy[str]:
    known = VALUES[field]
    return st.one_of(st.sampled_from(known), st.sampled_from(known).map(str.lower), st.sampled_from(["NOPE", "x"]))


@st.composite
def terms(draw: st.DrawFn) -> Term:
    field = draw(st.sampled_from(sorted(VALUES)))
    op = draw(st.sampled_from(["=", "=", "IN", "!=", "LIKE"]))
    if op == "IN":
        return Term(field, op, tuple(draw(st.lists(_value(field), min_size=1, max_size=3))))
    if op == "LIKE":
        return Term(field, op, draw(_value(field))[:3] + "@")
    return Term(field, op, draw(_value(field)))


@st.composite
def queries(draw: st.DrawFn) -> str:
    parts = draw(st.lists(terms(), min_size=1, max_size=3))
    node: Any = parts[0] if len(parts) == 1 else Bool(draw(st.sampled_from(["AND", "AND", "OR"])), tuple(parts))
    return oql_text(node)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries())
def test_the_index_answers_what_the_scan_answers(text: str) -> None:
    plain = select_objects(SIM.plan.jobs, text, FIELDS, "job", "paths", lambda j: True)
    indexed = select_objects(SIM.plan.jobs, text, FIELDS, "job", "paths", None, INDEX)
    assert [j.id for j in indexed] == [j.id for j in plain]


@pytest.mark.anyio
async def test_a_selection_is_reused_for_its_pages_and_dropped_after_an_action() -> None:
    sim = Simulator.create(9, 400, FakeClock())
    api = "/twsd/api/v2/plan"
    async with httpx.AsyncClient(transport=sim.transport(), base_url="http://sim", auth=("u", "p")) as http:
        query = {"oql": "jobruns.compositeStatus.status = 'HOLD'", "limit": 5}
        first = (await http.get(f"{api}/job", params=query)).json()
        second = (await http.get(f"{api}/job", params=query | {"offset": 5})).json()
        assert first["count"] == second["count"] and not {r["id"] for r in first["results"]} & {
            r["id"] for r in second["results"]
        }
        target = first["results"][0]["id"]
        odd = {"oql": "priority = 77", "limit": 10_000}
        before = (await http.get(f"{api}/job", params=odd)).json()
        assert target not in {r["id"] for r in before["results"]}
        changed = await http.put(f"{api}/job/{target}/action/update-priority", params={"priority": 77}, json={})
        assert changed.status_code == 200
        after = (await http.get(f"{api}/job", params=odd)).json()  # the same query, after an action
        assert target in {r["id"] for r in after["results"]} and after["count"] == before["count"] + 1


def test_plan_ids_are_what_the_uuid_module_makes() -> None:
    """The fast id formatting keeps seeded plans identical to what they were."""
    import random
    import uuid

    from resync_mcp.simulator.plan import _uuid

    a, b = random.Random(11), random.Random(11)
    assert all(_uuid(a) == str(uuid.UUID(int=b.getrandbits(128), version=4)) for _ in range(5000))


@pytest.mark.anyio
async def test_after_time_moves_the_kept_indexes_still_answer_what_a_scan_answers() -> None:
    clock = FakeClock()
    sim = Simulator.create(21, 500, clock)
    api = "/twsd/api/v2/plan/job"
    stream = sim.plan.streams[3].name
    filters = [
        f"jobStreamName = '{stream}'",
        "jobruns.compositeStatus.status IN ['SUCC', 'EXEC']",
        f"jobStreamName = '{stream}' AND jobruns.compositeStatus.status = 'HOLD'",
    ]
    async with httpx.AsyncClient(transport=sim.transport(), base_url="http://sim", auth=("u", "p")) as http:
        for hours in (0, 2, 5):  # statuses move with plan time; names and streams do not
            clock.advance(hours * 3600)
            now = sim.state()
            fields = render.job_fields(sim.plan, now)
            for text in filters:
                served = (await http.get(api, params={"oql": text})).json()["results"]
                plain = select_objects(sim.plan.jobs, text, fields, "job", "paths", lambda j: True)
                assert [r["id"] for r in served] == [j.id for j in plain], (hours, text)


@pytest.mark.parametrize("seed", [3, 42])
def test_the_plan_moves_forward_in_time(seed: int) -> None:
    """A job seen waiting at one moment starts after it, never before: a job stream's state is
    evaluated before the jobs that wait on it, in the same pass (not the pass before)."""
    clock = FakeClock()
    sim = Simulator.create(seed, 4000, clock)
    seen = sim.state()
    waiting = {j.idx for j in sim.plan.jobs if j.start is None}
    for _ in range(6):
        clock.advance(300)
        sim.state()
        early = [j.name for j in sim.plan.jobs if j.idx in waiting and j.start is not None and j.start < seen]
        assert early == []
        seen = sim.now()
        waiting = {j.idx for j in sim.plan.jobs if j.start is None}


@pytest.mark.anyio
async def test_a_simulator_on_its_own_loop_keeps_its_state_current() -> None:
    """What the threaded demo engine runs between requests: the plan evaluated at each new tick
    before any request asks (one pass, then it waits)."""
    import asyncio

    clock = FakeClock()
    sim = Simulator.create(5, 2000, clock)
    assert sim.plan.evaluated_at is None
    task = asyncio.create_task(sim.keep_current(first_delay_s=0))
    await asyncio.sleep(0)  # it starts, and yields in its (zero) first delay
    await asyncio.sleep(0)  # one pass; now it waits for the next tick
    try:
        assert sim.plan.evaluated_at == sim.now()
    finally:
        task.cancel()


def test_the_walks_indexes_are_built_before_any_request_and_without_an_evaluation() -> None:
    from resync_mcp.simulator.reads import WARM, job_index, warm_indexes

    sim = Simulator.create(5, 2000, FakeClock())
    warm_indexes(sim)
    assert sim.plan.evaluated_at is None
    _, index = job_index(sim, sim.now())
    assert set(WARM) <= set(index._tables)
