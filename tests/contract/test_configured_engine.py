"""Outside the lab: a real server process, over stdio from an empty folder with its own HOME, with
the simulator as a configured engine in its strictest mode (only OQL fields confirmed on real
engines). The operator's questions are still answered, the lab's action sequence goes through, and
the engine counts exactly the writes that were meant, none with a plan_id."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from mcp import Client

from tests.conftest import call
from tests.engines import configured_engine

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


async def test_a_stdio_server_on_a_strict_configured_engine_answers_and_acts(tmp_path: Path) -> None:
    with configured_engine(tmp_path, jobs=300, seed=5, sim_args=("--oql-fields", "confirmed")) as lab:
        async with httpx.AsyncClient(base_url=f"{lab.engine_url}/twsd/api/v2", auth=("u", "p")) as hwa:
            failed = await hwa.get("/plan/job", params={"oql": "jobruns.compositeStatus.status IN ['ABEND', 'FAIL']"})
            expected = {j["id"] for j in failed.json()["results"]}
            refused = await hwa.get("/plan/job", params={"oql": "lastRunCommonStatus = 'ERROR'"})
            assert refused.status_code == 400  # the strict engine refuses the field the client prefers
            async with Client(lab.stdio()) as mcp:
                found = await call(mcp, "find_jobs", {"status": ["ERROR"], "limit": 200})
                assert {j["id"] for j in found["jobs"]} == expected and found["total"] == len(expected)
                assert "refused filtering on lastRunCommonStatus" in found["note"]

                async def act(tool: str, args: dict[str, object]) -> dict[str, object]:
                    args = {**args, "reason": "lab sequence"}
                    first = await call(mcp, tool, args)
                    if first["outcome"] == "needs_confirmation":
                        first = await call(mcp, tool, {**args, "confirmation_token": first["confirmation_token"]})
                    assert first["outcome"] == "done", first["message"]
                    return first

                submitted = await act("submit_adhoc_job", {"workstation": "MDM", "command": "sleep 120"})
                job_id = str(submitted["engine_reference"]).split(" = ")[1]
                await act("hold_job", {"job": job_id})
                await act("kill_job", {"job": job_id})
                await act("confirm_job", {"job": job_id, "status": "SUCC"})
            writes = (await hwa.get(f"{lab.engine_url}/_sim/writes")).json()["results"]
    assert [w["path"].rsplit("/", 1)[-1] for w in writes] == ["submit-ad-hoc-job", "hold", "kill", "confirm-succ"]
    assert all("plan_id" not in w["query"] for w in writes)
