"""The audit chain around real tool calls: what each record says, durability of intents,
the store failing, the admin's reader, and the `resync-mcp audit` commands."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import Implementation

from resync_mcp.app import App, build_app
from resync_mcp.audit.reader import Filter, entries
from resync_mcp.cli import main
from resync_mcp.clock import FakeClock
from resync_mcp.config import Settings, load_settings
from resync_mcp.paths import user_dir
from resync_mcp.simulator import Simulator
from tests.conftest import call, error_text

pytestmark = pytest.mark.anyio
ME = Implementation(name="pytest-client", version="9.9")


def records(app: App, **flt: Any) -> list[dict[str, Any]]:
    assert app.audit is not None
    return list(entries(app.audit.store, Filter(**flt)))


def job_in(sim: Simulator, status: str) -> Any:
    sim.state()
    return next(j for j in sim.plan.jobs if j.status == status)


async def test_each_call_is_recorded_with_who_what_and_how(app: App, sim: Simulator) -> None:
    job = job_in(sim, "SUCC")
    async with Client(app.server, client_info=ME) as mcp:
        await call(mcp, "get_job", {"job": job.id})
        await call(mcp, "get_job", {"job": job.id})  # from the cache
        await error_text(mcp, "get_job", {"job": "00000000-0000-4000-8000-000000000000"})
    first, cached, failed = records(app, tool="get_job")
    assert first["outcome"] == "ok" and first["hwa_requests"] >= 1 and first["served_from_cache"] == 0
    assert cached["hwa_requests"] == 0 and cached["served_from_cache"] >= 1
    assert failed["outcome"] == "error" and "not found" in failed["error"].lower()
    assert first["client"] == {"name": "pytest-client", "version": "9.9"} and first["principal"] == "local-operator"
    assert first["arguments"] == {"job": job.id} and first["kind"] == "call" and first["correlation_id"]


async def test_a_control_action_writes_a_durable_intent_before_the_hwa_call(app: App, sim: Simulator) -> None:
    job = job_in(sim, "EXEC")
    assert app.audit is not None
    store = app.audit.store
    seen_at_send: list[int] = []
    original = sim.actions.job

    def spy(*args: Any, **kw: Any) -> None:  # what is on disk when HWA receives the kill
        seen_at_send.append(
            sqlite3.connect(store.path).execute("SELECT count(*) FROM records WHERE kind='intent'").fetchone()[0]
        )
        original(*args, **kw)

    sim.actions.job = spy  # type: ignore[method-assign]
    async with Client(app.server) as mcp:
        preview = await call(mcp, "kill_job", {"job": job.id, "reason": "runaway", "preview": True})
        args = {"job": job.id, "reason": "runaway", "confirmation_token": preview["confirmation_token"]}
        await call(mcp, "kill_job", args)
    assert seen_at_send == [1]
    intent, outcome = [r for r in records(app, tool="kill_job") if r["kind"] in ("intent", "outcome")]
    assert intent["justification"] == "runaway" and intent["target"]["id"] == job.id
    assert outcome["intent_seq"] == [intent["seq"]] and outcome["action_outcome"] == "done"
    assert outcome["arguments"]["confirmation_token"] == "[redacted]"


async def test_denied_calls_are_recorded(settings: Settings, clock: FakeClock, sim: Simulator) -> None:
    app = build_app(
        settings.model_copy(update={"security": settings.security.model_copy(update={"role": "viewer"})}),
        clock=clock,
        simulator=sim,
    )
    async with Client(app.server) as mcp:
        await error_text(mcp, "kill_job", {"job": job_in(sim, "EXEC").id, "reason": "r"})
    [denied] = records(app, tool="kill_job")
    assert denied["outcome"] == "denied" and "'operate'" in denied["error"]
    app.audit.store.close()  # type: ignore[union-attr]


async def test_when_the_audit_cannot_write_reads_go_on_and_actions_are_refused(
    app: App, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert app.audit is not None

    def io_error(rows: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(app.audit.store, "_write", io_error)
    job = job_in(sim, "EXEC")
    async with Client(app.server) as mcp:
        assert (await call(mcp, "get_job", {"job": job.id}))["job"]["id"] == job.id
        text = await error_text(mcp, "hold_job", {"job": job_in(sim, "HOLD").id})
        health = await call(mcp, "server_health", {})
    assert "audit store cannot record the intent" in text and sim.writes == []
    assert health["status"] == "degraded" and health["audit"]["healthy"] is False
    assert health["audit"]["dropped"] >= 1


async def test_the_audit_reader_is_for_admins_only(settings: Settings, clock: FakeClock, sim: Simulator) -> None:
    admin = build_app(settings, clock=clock, simulator=sim)  # the simulator alone: admin by default
    async with Client(admin.server) as mcp:
        await call(mcp, "plan_summary", {})
        recent = await call(mcp, "recent_audit_entries", {"limit": 5})
    assert recent["returned"] >= 1 and recent["entries"][0]["tool"] in ("plan_summary", "recent_audit_entries")
    operator = build_app(
        settings.model_copy(update={"security": settings.security.model_copy(update={"role": "operator"})}),
        clock=clock,
        simulator=sim,
    )
    async with Client(operator.server) as mcp:
        assert "'admin' toolset" in await error_text(mcp, "recent_audit_entries", {})


def test_cli_verify_show_export_rotate_and_shred(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--demo-jobs", "200", "--demo-seed", "3"]) == 0
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0
    assert "audit chain OK" in capsys.readouterr().out
    assert main(["audit", "export", "--tool", "rerun_job"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines and all('"tool": "rerun_job"' in line for line in lines)
    assert main(["audit", "rotate-key"]) == 0 and "epoch 2" in capsys.readouterr().out
    assert main(["audit", "shred", "--subject", "local-operator"]) == 0
    capsys.readouterr()
    assert main(["audit", "show", "--limit", "3"]) == 0
    assert '"shredded"' in capsys.readouterr().out.replace("shredded=true", '"shredded"')
    assert main(["audit", "verify"]) == 0
    db = sqlite3.connect(user_dir("data") / "audit" / "audit.db")  # the default: the user's data folder
    assert not list(tmp_path.iterdir())  # nothing in the working folder
    db.execute("UPDATE records SET kind = 'call ' WHERE seq = 2")
    db.commit()
    db.close()
    assert main(["audit", "verify"]) == 1
    assert "BROKEN at seq 2" in capsys.readouterr().out


def test_settings_refuse_a_kek_in_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "r.toml"
    cfg.write_text('[audit]\nkek = "AAAA"\n')
    with pytest.raises(Exception) as info:
        load_settings(str(cfg))
    assert "RESYNC_AUDIT__KEK" in str(info.value)


async def test_a_damaged_chain_makes_health_degraded_and_says_where(
    settings: Settings, clock: FakeClock, sim: Simulator
) -> None:
    first = build_app(settings, clock=clock, simulator=sim)
    async with Client(first.server) as mcp:
        for _ in range(3):
            await call(mcp, "list_workstations", {})
    assert first.audit is not None
    path = first.audit.store.path
    first.audit.store.flush()
    assert first.audit.store._db is not None
    first.audit.store._db.close()  # a crash: the tail stays unsigned
    first.audit.store._db = None
    db = sqlite3.connect(path)
    db.execute("UPDATE records SET kind = 'intent' WHERE seq = 2")
    db.commit()
    db.close()
    second = build_app(settings, clock=clock, simulator=sim)
    async with Client(second.server) as mcp:
        health = await call(mcp, "server_health", {})
    assert health["status"] == "degraded" and health["audit"]["chain_damaged_at"] == 2
