"""The HWA client against the simulator, and its one error-mapping boundary."""

from __future__ import annotations

import httpx
import pytest

from resync_mcp.errors import (
    AuthFailed,
    Conflict,
    EngineUnavailable,
    InvalidArgument,
    InvalidQuery,
    NotFound,
    WrongState,
)
from resync_mcp.simulator import Simulator
from resync_mcp.tws.client import HwaClient
from resync_mcp.tws.errors import message_codes

pytestmark = pytest.mark.anyio


async def test_query_jobs_pages_with_count_and_next(hwa: HwaClient, sim: Simulator) -> None:
    page = await hwa.query_jobs(limit=10)
    assert page.count == len(sim.plan.jobs)
    assert len(page.results) == 10 and page.next is not None
    second = await hwa.query_jobs(limit=10, offset=10)
    assert {j.id for j in page.results}.isdisjoint({j.id for j in second.results})


async def test_get_job_carries_runs_and_dependencies(hwa: HwaClient, sim: Simulator) -> None:
    target = next(j for j in sim.plan.jobs if len(j.deps) >= 2)
    job = await hwa.get_job(target.id)
    assert job.id == target.id and job.name == target.name
    assert job.dependencies is not None and len(job.dependencies) == len(target.deps)
    assert {d.dependency_type for d in job.dependencies} <= {
        "INTERNAL",
        "EXTERNAL_JOB",
        "EXTERNAL_JOBSTREAM",
        "RESOURCE",
        "PROMPT",
        "FILE",
    }
    runs = await hwa.get_job_runs(target.id)
    assert [r.id for r in runs] == target.run_ids


async def test_job_log_line_range(hwa: HwaClient, sim: Simulator) -> None:
    sim.state()
    job = next(j for j in sim.plan.jobs if j.status == "SUCC")
    full = await hwa.get_job_log(job.run_ids[-1])
    part = await hwa.get_job_log(job.run_ids[-1], from_line=3, to_line=5)
    assert part.splitlines() == full.splitlines()[2:5]


async def test_count_and_other_objects(hwa: HwaClient, sim: Simulator) -> None:
    counted = await hwa.count_jobs(grouping=["workstation"])
    assert counted.count == len(sim.plan.jobs) and sum(counted.grouped_count.values()) == counted.count
    streams = await hwa.query_job_streams(limit=3)
    stream = await hwa.get_job_stream(streams.results[0].id)
    assert stream.jobs and all(j.job_stream_id == stream.id for j in stream.jobs)
    ws = await hwa.query_workstations()
    assert ws.count == len(sim.plan.workstations)
    assert (await hwa.get_workstation(ws.results[0].id)).name == ws.results[0].name
    assert (await hwa.query_resources()).count == len(sim.plan.resources)
    prompts = await hwa.query_prompts()
    assert (await hwa.get_prompt(prompts.results[0].id)).id == prompts.results[0].id
    assert (await hwa.engine_info()).display_version == "10.2.8"


async def test_missing_job_is_not_found(hwa: HwaClient) -> None:
    with pytest.raises(NotFound) as err:
        await hwa.get_job("00000000-0000-4000-8000-000000000000")
    assert err.value.status == 404 and not err.value.retryable


async def test_bad_oql_is_invalid_query_with_code(hwa: HwaClient) -> None:
    with pytest.raises(InvalidQuery) as err:
        await hwa.query_jobs(oql="key.name = 'X'")
    assert err.value.code == "OQL_FILTER_SYNTAX_ERROR"


@pytest.mark.parametrize("bad", ["../engine/info", "x?y=1", "", "6d19eaf1-c9da-3799-96ed-131f07832a0", "a b"])
async def test_malformed_ids_are_refused_before_any_request(hwa: HwaClient, bad: str) -> None:
    before = hwa.requests_made
    with pytest.raises(InvalidArgument):
        await hwa.get_job(bad)
    assert hwa.requests_made == before


def _client(handler: object) -> HwaClient:
    transport = httpx.MockTransport(handler)  # type: ignore[arg-type]
    return HwaClient(httpx.AsyncClient(transport=transport, base_url="http://hwa.invalid"), engine="prod")


@pytest.mark.parametrize(
    ("status", "body", "error", "retryable"),
    [
        (401, {"messages": ["Not Authorized"]}, AuthFailed, False),
        (403, {"messages": ["Not Allowed"]}, AuthFailed, False),
        (409, {"message": "job already present in the destination job stream"}, Conflict, False),
        (
            500,
            {"messages": ["AWSJSY404E The operation failed. AWSBIN076E The object is in an incorrect state"]},
            WrongState,
            False,
        ),
        (500, {"messages": ["something broke"]}, EngineUnavailable, True),
        (503, "<html>down</html>", EngineUnavailable, True),
        (429, {}, EngineUnavailable, True),
    ],
)
async def test_status_and_aws_codes_map_to_the_error_tree(
    status: int, body: object, error: type[Exception], retryable: bool
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    with pytest.raises(error) as err:
        await _client(handler).query_jobs()
    assert err.value.retryable is retryable  # type: ignore[attr-defined]
    assert "prod" in str(err.value)


async def test_timeouts_and_refused_connections_are_retryable_engine_errors() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    for handler, word in ((timeout, "timed out"), (refused, "could not be reached")):
        with pytest.raises(EngineUnavailable) as err:
            await _client(handler).engine_info()
        assert err.value.retryable and word in str(err.value)


async def test_unreadable_success_body_is_a_clear_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>login page</html>")

    with pytest.raises(Exception, match="could not be read"):
        await _client(handler).get_job("6d19eaf1-c9da-3799-96ed-131f07832a01")


def test_message_codes_are_found_in_any_body_shape() -> None:
    assert message_codes('{"x": "AWSJSY404E wraps AWSBIN076E"}') == ["AWSJSY404E", "AWSBIN076E"]
    assert message_codes("OQL_FILTER_SYNTAX_ERROR: bad") == ["OQL_FILTER_SYNTAX_ERROR"]


async def test_credentials_and_plan_id_are_sent(sim: Simulator) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"count": 0, "results": []})

    client = HwaClient(
        httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://h.invalid", auth=("ops", "pw")),
        engine="e",
        plan_id="current",
    )
    await client.query_jobs(oql="name = 'A'", limit=5)
    req = seen[0]
    assert req.url.path == "/twsd/api/v2/plan/job"
    assert req.url.params["plan_id"] == "current" and req.url.params["limit"] == "5"
    assert req.headers["Authorization"].startswith("Basic ") and req.headers["Include-Count"] == "true"
