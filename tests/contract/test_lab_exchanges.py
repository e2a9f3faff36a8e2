"""The lab captures as contract tests: every exchange recorded against a real HWA 10.2.8 engine
(tests/contract/lab_exchanges.json) is replayed against the simulator, in process and over a
socket, and every recorded error is mapped by the client to what it means, never to an outage."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from resync_mcp.clock import FakeClock
from resync_mcp.errors import HwaError, InvalidQuery, NotFound, WrongState
from resync_mcp.simulator import Simulator
from resync_mcp.tws.client import HwaClient
from resync_mcp.tws.errors import raise_for_response
from tests.conftest import SEED
from tests.test_transports import _free_port, _start

pytestmark = pytest.mark.anyio
CATALOGUE = json.loads(Path(__file__).with_name("lab_exchanges.json").read_text())
EXCHANGES: list[dict[str, Any]] = CATALOGUE["exchanges"]
API = "/twsd/api/v2"
CLIENT_ERRORS = {"WrongState": WrongState, "InvalidQuery": InvalidQuery, "NotFound": NotFound}


class Replay:
    """Fills the placeholders of the recorded requests from the simulated plan as it is now."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.unknown = str(uuid.UUID(int=7))

    def job_in(self, status: str, skip: int = 0) -> Any:
        self.sim.state()
        return [j for j in self.sim.plan.jobs if j.status == status][skip]

    def named(self, name: str) -> Any:
        return next(j for j in self.sim.plan.jobs if j.name == name)

    def fill(self, text: str) -> str:
        plan = self.sim.plan
        values = {
            "{job}": lambda: plan.jobs[0].id,
            "{job_name}": lambda: plan.jobs[0].name,
            "{workstation}": lambda: "MDM",
            "{stream_ws}": lambda: plan.workstations[plan.streams[0].workstation].name,
            "{adhoc}": lambda: self.named("SLEEP").id,
            "{held}": lambda: self.named("LABHOLD").id,
            "{succ_job}": lambda: self.job_in("SUCC").id,
            "{ended_run}": lambda: self.job_in("ABEND").run_ids[-1],
            "{ended_run2}": lambda: self.job_in("ABEND", 1).run_ids[-1],
            "{unknown_uuid}": lambda: self.unknown,
        }
        for key, value in values.items():
            if key in text:
                text = text.replace(key, value())
        return text

    def request(self, ex: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        method, _, target = ex["req"].partition(" ")
        path, _, query = self.fill(target).partition("?")
        url = path if path.startswith("/twsd/") or path.startswith("/JobManager") else f"{API}{path}"
        kw: dict[str, Any] = {}
        if query:
            kw["params"] = dict(part.split("=", 1) for part in query.split("&"))
        if "body" in ex:
            kw["content"] = self.fill(json.dumps(ex["body"])).encode()
            kw["headers"] = {"Content-Type": "application/json"}
        elif ex.get("raw_body"):
            kw["content"] = b"{}"  # a body without the JSON content type: the engine answers 415
        return method, url, kw

    def check(self, ex: dict[str, Any], response: httpx.Response) -> None:
        where = f"{ex['id']} ({ex['src']}): {ex['req']}"
        if ex["status"] is not None:
            assert response.status_code == ex["status"], (where, response.status_code, response.text[:300])
        else:
            assert response.status_code >= 400, where
        fragment = self.fill(ex["fragment"])
        body = response.text
        if fragment == "{count_equals_jobs}":
            assert response.json()["count"] == len(self.sim.plan.jobs), where
        elif fragment == "{count_below_jobs}":
            assert 0 < response.json()["count"] < len(self.sim.plan.jobs), where
        else:
            assert fragment in body, (where, body[:300])
        for more in ex.get("also", []):
            assert more in body, (where, more)
        if "then_state" in ex:
            assert self.named(ex["body"]["alias"]).status == ex["then_state"], where


def _replayed() -> Iterator[dict[str, Any]]:
    return (ex for ex in EXCHANGES if ex["sim"] == "replay")


def test_the_catalogue_holds_every_recorded_exchange_with_a_verdict() -> None:
    assert len(EXCHANGES) >= 48 and len({ex["id"] for ex in EXCHANGES}) == len(EXCHANGES)
    for ex in EXCHANGES:
        assert ex["src"] in CATALOGUE["sources"] and ex["sim"] in ("replay", "difference"), ex["id"]
        assert ex["sim"] == "replay" or ex.get("why"), f"{ex['id']}: a difference needs its reason"
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for ex in EXCHANGES:
        if ex["sim"] == "difference":
            assert ex["id"] in readme, f"{ex['id']} is a known difference the README must list"


async def test_the_simulator_answers_every_replayable_exchange_as_the_lab_recorded(clock: FakeClock) -> None:
    sim = Simulator.create(SEED, 600, clock)
    replay = Replay(sim)
    async with httpx.AsyncClient(transport=sim.transport(), base_url="http://sim.invalid", auth=("u", "p")) as http:
        for ex in _replayed():
            method, url, kw = replay.request(ex)
            replay.check(ex, await http.request(method, url, **kw))


@pytest.mark.slow
async def test_a_simulator_process_answers_the_exchanges_over_a_socket(tmp_path: Path, clock: FakeClock) -> None:
    """The same replay against ``resync-mcp simulator --port N``, the way a configured engine is reached."""
    port = _free_port()
    proc = _start(["simulator", "--port", str(port), "--seed", str(SEED), "--jobs", "600"], tmp_path)
    try:
        # The process's plan, rebuilt here from the same seed, names the objects to ask about.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", auth=("u", "p"), timeout=10) as http:
            info = (await http.get("/_sim/info")).json()
            assert (info["seed"], info["jobs"], info["adhocState"]) == (SEED, 600, "HOLD")
            replay = SocketReplay(http)
            for ex in _replayed():
                method, url, kw = await replay.prepared(ex)
                replay.check(ex, await http.request(method, url, **kw))
            writes = (await http.get("/_sim/writes")).json()
            expected = [ex for ex in _replayed() if ex["req"].split()[0] in ("PUT", "POST") and ex["status"] != 405]
            assert writes["count"] == len(expected)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class SocketReplay(Replay):
    """Placeholders resolved by asking the engine, as a client must when it cannot see the plan."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.unknown = str(uuid.UUID(int=7))
        self.values: dict[str, str] = {}
        self.jobs = 0

    async def _jobs(self, oql: str) -> list[dict[str, Any]]:
        body = (await self.http.get(f"{API}/plan/job", params={"oql": oql, "limit": 5})).json()
        return list(body["results"])

    async def prepared(self, ex: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        first = (await self._jobs("ORDER BY name ASC"))[0]
        self.jobs = int((await self.http.get(f"{API}/plan/job/count")).json()["count"])
        found = {
            "{job}": first["id"],
            "{job_name}": first["name"],
            "{workstation}": "MDM",
            "{stream_ws}": str(first["jobStreamWorkstation"]).strip("/"),
            "{unknown_uuid}": self.unknown,
        }
        for key, name in (("{adhoc}", "SLEEP"), ("{held}", "LABHOLD")):
            if key in ex["req"] or key in ex["fragment"]:
                found[key] = (await self._jobs(f"name = '{name}'"))[0]["id"]
        if "{succ_job}" in ex["req"]:
            found["{succ_job}"] = (await self._jobs("jobruns.compositeStatus.status = 'SUCC'"))[0]["id"]
        if "{ended_run" in ex["req"]:
            ended = await self._jobs("jobruns.compositeStatus.status = 'ABEND'")
            found["{ended_run}"] = ended[0]["jobruns"][-1]["id"]
            found["{ended_run2}"] = ended[1]["jobruns"][-1]["id"]
        self.values = found
        return Replay.request(self, ex)

    def fill(self, text: str) -> str:
        for key, value in self.values.items():
            text = text.replace(key, value)
        return text

    def check(self, ex: dict[str, Any], response: httpx.Response) -> None:
        where = f"{ex['id']} ({ex['src']})"
        if ex["status"] is not None:
            assert response.status_code == ex["status"], (where, response.status_code, response.text[:300])
        fragment = self.fill(ex["fragment"])
        if fragment == "{count_equals_jobs}":
            assert response.json()["count"] == self.jobs, where
        elif fragment == "{count_below_jobs}":
            assert 0 < response.json()["count"] < self.jobs, where
        else:
            assert fragment in response.text, (where, response.text[:300])


@pytest.mark.parametrize("ex", [ex for ex in EXCHANGES if "client" in ex], ids=lambda ex: ex["id"])
def test_the_client_maps_each_recorded_error_to_what_it_means(ex: dict[str, Any]) -> None:
    status = ex["status"] or 500
    body = {"message": ex["fragment"]} if ex["fragment"] else {}
    response = httpx.Response(status, json=body, request=httpx.Request("PUT", "http://hwa.invalid/x"))
    with pytest.raises(CLIENT_ERRORS[ex["client"]]) as err:
        raise_for_response(response, "lab", "replaying the lab")
    assert err.value.retryable is False and "Retrying later may help" not in str(err.value.message)


async def test_an_aws_code_only_in_the_status_line_is_a_wrong_state_not_an_outage() -> None:
    """LAB-PUT recorded ``HTTP/1.1 500 AWSJSY404E ... AWSBIN076E ...``: the code in the status line,
    no body. The client must call it a wrong state, read nothing twice and not trip the breaker."""
    ex = next(e for e in EXCHANGES if e["id"] == "put-confirm-terminal")
    sent: list[httpx.Request] = []

    def engine(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(500, extensions={"reason_phrase": ex["status_line"].encode()})

    async with httpx.AsyncClient(transport=httpx.MockTransport(engine), base_url="http://hwa.invalid") as http:
        client = HwaClient(http, engine="lab")
        job_id = "6d19eaf1-c9da-3799-96ed-131f07832a01"
        with pytest.raises(WrongState) as err:
            await client._send("PUT", f"/plan/job/{job_id}/action/confirm-succ", "confirming", kind="job")
        assert "incorrect state" in err.value.message and err.value.code == "AWSBIN076E"
        with pytest.raises(HwaError) as read_err:
            await client.get_job(job_id)
        assert isinstance(read_err.value, WrongState) and not read_err.value.retryable
    assert len(sent) == 2
    assert all("plan_id" not in r.url.params for r in sent if r.method == "PUT")  # writes declare no plan_id
